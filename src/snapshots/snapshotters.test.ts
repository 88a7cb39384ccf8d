// Runs the Snapshotter contract against every implementation (no mounting, so no root needed).
import { NativeSnapshotter } from './native-snapshotter.ts';
import { OverlaySnapshotter } from './overlay-snapshotter.ts';
import { runSnapshotterContract } from './snapshotter.contract.ts';

runSnapshotterContract('OverlaySnapshotter', (root) => new OverlaySnapshotter(root));
runSnapshotterContract('NativeSnapshotter', (root) => new NativeSnapshotter(root));
