// The repository of a build's temporary images, apart from the builder: berthd's start-up removes
// what a crash left under it (src/engine/build-runner.ts) without loading the builder itself.
/** The temporary names of RUN steps' states; any left after a crash are removed at berthd's start. */
export const TMP_REPOSITORY = 'localhost/berth-build-tmp';
