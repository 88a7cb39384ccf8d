// The verbs file: everything berth-runtime's plan-free verbs (start, state, kill, delete, list,
// pause, resume, ps) need, decided here at create and written beside state.json, so that the
// native front (native/front, docs/native.md) runs them without starting Node. Owns the encoding
// and the choice of what goes in; never read back by TypeScript (state.json stays the record).
// Format: records `<key> <byte length>\n<value>\n`; the first is `version 1`, the last `end` with
// an empty value. A front that finds no end record (or any key it does not know) hands the verb to
// the Node bundle, which reads state.json.
import type { CgroupManager } from '../cgroups/types.ts';
import type { Hook } from '../oci/runtime-spec.ts';
import { OCI_VERSION } from '../oci/runtime-spec.ts';
import { parentsToPrune } from './cgroup-driver.ts';
import { hookEnv } from './hooks.ts';
import type { ContainerRecord } from './state-store.ts';

export const VERBS_FILE_VERSION = 1;

/** Encodes the verbs file of a created container: `rec` with its init's pid and start time, `cg` its cgroups (if any). */
export function encodeVerbsFile(rec: ContainerRecord, cg: CgroupManager | undefined): Buffer {
  const parts: Buffer[] = [];
  const put = (key: string, value: string | number) => {
    const v = Buffer.from(String(value));
    parts.push(Buffer.from(`${key} ${v.length}\n`), v, Buffer.from('\n'));
  };
  put('version', VERBS_FILE_VERSION);
  // The state document's fields, in runc's order; the front adds pid and the derived status.
  put('oci-version', OCI_VERSION);
  put('id', rec.id);
  put('pid', rec.pid);
  put('start-time', rec.initStartTime);
  put('bundle', rec.bundle);
  put('rootfs', rec.rootfs);
  put('created', rec.created);
  put('owner', rec.owner);
  // In JSON.stringify's order (integer-like keys first), as the Node verbs print them.
  for (const [k, v] of Object.entries(rec.annotations)) {
    put('annotation-key', k);
    put('annotation-value', v);
  }
  if (cg) {
    const m = cg.mechanism();
    for (const dir of m.dirs) put('cgroup-dir', dir);
    put('freezer-version', m.freezer.version);
    if (m.freezer.dir !== undefined) put('freezer-dir', m.freezer.dir);
    if (m.killFile !== undefined) put('kill-file', m.killFile);
    for (const dir of parentsToPrune(rec, cg.paths())) put('prune-dir', dir);
  }
  const hooks = (name: string, list: readonly Hook[] | undefined) => {
    for (const h of list ?? []) {
      put('hook', name);
      put('hook-path', h.path);
      // runHook's rule: no args means argv is the path alone.
      for (const a of h.args && h.args.length > 0 ? h.args : [h.path]) put('hook-arg', a);
      for (const [k, v] of Object.entries(hookEnv(h))) put('hook-env', `${k}=${v}`);
      if (h.timeout && h.timeout > 0) put('hook-timeout', h.timeout);
    }
  };
  hooks('poststart', rec.config.hooks?.poststart);
  hooks('poststop', rec.config.hooks?.poststop);
  put('end', '');
  return Buffer.concat(parts);
}
