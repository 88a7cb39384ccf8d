// The native API's wire types: the engine's request and result shapes, carried as JSON. The client
// imports these (types only), so both ends agree at compile time. Routes are listed in routes.ts.
export type {
  AttachOptions,
  ContainerDetails,
  ContainerFilter,
  ContainerSummary,
  CreateRequest,
  DeviceRequest,
  EngineEvent,
  EventFilter,
  ExecRequest,
  HealthConfig,
  HealthState,
  ExitResult,
  LogLine,
  LogOptions,
  MountRequest,
  NetworkInfo,
  PortBindings,
  PortMapping,
  StatsResult,
  SystemInfo,
  TopResult,
  UpdateRequest,
  VersionInfo,
  VolumeInfo,
} from '../engine/types.ts';

/** One line of a JSON-lines stream ends with either `done` or `error` when the stream has a result. */
export type StreamEnd<T> = { done: T } | { error: string; code: string };

/** The Upgrade token of attach connections; after the 101, bytes are the shim's attach frames. */
export const ATTACH_PROTOCOL = 'berth-attach';
export const API_PREFIX = '/v1';
/** Headers of the 101 that answers `POST /containers/run`: the container it made. */
export const CONTAINER_ID_HEADER = 'x-berth-container-id';
export const CONTAINER_NAME_HEADER = 'x-berth-container-name';
/** Header of the 101 that answers `POST /containers/{id}/exec/start`: the exec it started. */
export const EXEC_ID_HEADER = 'x-berth-exec-id';
/** Header of `GET /containers/{id}/archive`: the path's stat (PathStat) as base64 JSON. */
export const PATH_STAT_HEADER = 'x-berth-path-stat';
export type { PathStat } from '../engine/container-archive.ts';
export type { Change } from '../engine/container-changes.ts';
export type { CommitRequest, CommitResult } from '../engine/container-commit.ts';
export type { HistoryEntry } from '../engine/image-history.ts';

export type { SystemDf, SystemPruneResult } from '../engine/system-prune.ts';
export type { PodInfo } from '../engine/pod-types.ts';
export type { BuildEvent as BuildEventWire } from '../engine/build-runner.ts';

/** POST /images/prune: names removed, then what gc collected. */
export type ImagePruneWire = {
  untagged: string[];
  removed: string[];
  removedSnapshots: string[];
  removedIngests: string[];
  removedLeases: string[];
  removedDirs: string[];
  freedBytes: number;
};

/** GET /images: one entry per name (ImageService.list's shape). */
export type ImageSummaryWire = {
  name: string;
  repository: string;
  tag: string;
  /** The image ID: the config digest. */
  id: string;
  /** The manifest (or index) digest. */
  digest: string;
  mediaType: string;
  size: number;
  created?: string;
  createdAt: string;
  updatedAt: string;
};
