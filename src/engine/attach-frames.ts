// The frames of an attach stream the engine hands out (containers.attach, startAttached, execAttach):
// the shim's attach protocol (docs/shim.md), re-exported for the wire adapters that convert it to
// their own framing (src/docker-api), which may import the engine but not the shim.
// DETACHED is the engine's own: it ends the stream of a client that typed its detach keys.
export { DETACHED_FRAME } from './detach-keys.ts';
export { encodeFrame, FrameDecoder, FrameType, resizeFrame, stdinFrames } from '../shim/frames.ts';
