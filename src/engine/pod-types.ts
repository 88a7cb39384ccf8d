// The pod service's request and result shapes (src/engine/pod-service.ts): plain data, as the CRI
// adapter and the native API carry them. Must never: contain behaviour.
import type { PodState } from '../metadata/pod-store.ts';
import type { PortMapping } from './types.ts';

export type { PodState };

/** Which namespaces a pod's containers share: `pod` (the pod's own), `container` (each its own, pid only) or `node` (the host's). */
export type PodNamespaces = { network: 'pod' | 'node'; pid: 'pod' | 'container' | 'node'; ipc: 'pod' | 'node' };

export type PodRequest = {
  /** name, namespace, uid and attempt together name the pod uniquely (the CRI's PodSandboxMetadata). */
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  /** Default: the host's hostname (as containerd; a pod name may exceed a hostname's 64 bytes). */
  hostname?: string;
  logDirectory?: string;
  dns?: { servers: string[]; searches: string[]; options: string[] };
  /** Published through the CNI portmap plugin (hostPort 0 publishes nothing). */
  ports?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** cgroupfs path under which the pod's processes go; default /berth-pods/<id>. */
  cgroupParent?: string;
  namespaces?: PodNamespaces;
  /** Namespaced kernel parameters of the pod: net.* in its network namespace; kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* in its IPC one. */
  sysctls?: Record<string, string>;
  /** A runtime class of berthd's configuration (the CRI's runtime handler); default berthd's. */
  runtime?: string;
  /** Whether the pod may hold privileged containers (the CRI's sandbox security_context.privileged). */
  privileged?: boolean;
  /**
   * A user namespace of the pod's own (the CRI's userns_options mode POD): the pause process makes it
   * with these mappings (exactly one each, container id 0 mapped), and every container of the pod
   * joins it. Absent: the host's (NODE).
   */
  userns?: PodUserns;
};

/** One id range each, as the OCI's linux.uidMappings: container ids [containerID, containerID+size) are host ids from hostID. */
export type PodUserns = {
  uidMappings: { containerID: number; hostID: number; size: number }[];
  gidMappings: { containerID: number; hostID: number; size: number }[];
};

export type PodInfo = {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: PodState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostname: string;
  /** The pod's addresses on its network ([] for a host-network pod, or once stopped). */
  ips: string[];
  namespaces: PodNamespaces;
  /** The pod's own user namespace's mappings; absent when it uses the host's. */
  userns?: PodUserns;
  runtime: string;
  /** Whether its containers may be privileged (a pod made before this was recorded counts as not). */
  privileged: boolean;
  cgroupParent: string;
  /** The pause process's host pid (0 when not ready). */
  pid: number;
  netns: string;
  logDirectory: string;
  containers: string[];
  /** Why the pod is not ready, when something ended it. */
  error: string;
};
