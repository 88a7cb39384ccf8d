// Which CRI services and methods berthd serves under which API version. runtime.v1 and
// runtime.v1alpha2 share one implementation and one set of messages (proto/cri-api.proto says why
// that is wire-correct); v1alpha2 has the methods it had when it was last published (cri-api
// v0.25.0), v1 all of them. Pure data, loaded without grpc-js.

export const CRI_VERSIONS = ['v1', 'v1alpha2'] as const;
export type CriVersion = (typeof CRI_VERSIONS)[number];

/** Methods of runtime.v1 that runtime.v1alpha2 never had. */
const V1_ONLY = new Set([
  'CheckpointContainer',
  'GetContainerEvents',
  'ListMetricDescriptors',
  'ListPodSandboxMetrics',
  'RuntimeConfig',
]);

export function offeredIn(version: CriVersion, method: string): boolean {
  return version === 'v1' || !V1_ONLY.has(method);
}

/** `/runtime.v1.RuntimeService/Version` → the same method's path in `version`. */
export function pathIn(version: CriVersion, v1Path: string): string {
  return v1Path.replace(/^\/runtime\.v1\./, `/runtime.${version}.`);
}
