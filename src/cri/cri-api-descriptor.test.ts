import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criDescriptorFromProto } from '../../scripts/gen-cri-descriptor.ts';
import { CRI_DESCRIPTOR_JSON } from './cri-api-descriptor.ts';
import { offeredIn, pathIn } from './services.ts';
import { GrpcStatus, grpcErrorOf } from './status.ts';
import { invalidArgument, notFound, unsupported } from '../errors/errors.ts';

test('the pre-parsed descriptor is the .proto (run node scripts/gen-cri-descriptor.ts after editing it)', () => {
  assert.equal(CRI_DESCRIPTOR_JSON, criDescriptorFromProto());
});

test('v1alpha2 offers the methods it was published with; paths move to its package', () => {
  assert.equal(offeredIn('v1alpha2', 'RunPodSandbox'), true);
  assert.equal(offeredIn('v1alpha2', 'GetContainerEvents'), false);
  assert.equal(offeredIn('v1', 'GetContainerEvents'), true);
  assert.equal(pathIn('v1alpha2', '/runtime.v1.RuntimeService/Version'), '/runtime.v1alpha2.RuntimeService/Version');
});

test('errors map to the gRPC codes a kubelet expects, with berth message', () => {
  assert.deepEqual(grpcErrorOf(notFound('no such pod sandbox: x')), {
    code: GrpcStatus.NotFound,
    details: 'no such pod sandbox: x',
    message: 'no such pod sandbox: x',
  });
  assert.equal(grpcErrorOf(invalidArgument('config.metadata: required')).code, GrpcStatus.InvalidArgument);
  assert.equal(grpcErrorOf(unsupported('CheckpointContainer')).code, GrpcStatus.Unimplemented);
  assert.equal(grpcErrorOf(new Error('boom')).code, GrpcStatus.Unknown);
});
