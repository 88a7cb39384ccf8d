// A container's recorded status and the questions asked of it: which verbs it allows, and which
// status may follow which. The engine records every status change through `checkTransition`, so a
// verb that lost a race (a pause against the task's exit) fails instead of writing over the truth.
// Owns: the status words and the transition table. Must never: read or write anything.
import { failedPrecondition } from '../errors/errors.ts';

/** The OCI runtime-spec status words, plus 'stopped' for a container whose task has exited. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped';

export const CONTAINER_STATUSES: readonly ContainerStatus[] = ['created', 'running', 'paused', 'stopped'];

/**
 * Which status may be recorded after which. created → running and stopped → running: a start (or a
 * restart); running ⇄ paused: pause and unpause; running | paused → stopped: the task's exit. A
 * created container never had a task, so nothing stops it; nothing goes back to created.
 */
const NEXT: Record<ContainerStatus, readonly ContainerStatus[]> = {
  created: ['running'],
  running: ['paused', 'stopped'],
  paused: ['running', 'stopped'],
  stopped: ['running'],
};

/** It has a task (a process and its shim): running, or running and frozen. */
export function isLive(s: ContainerStatus): boolean {
  return s === 'running' || s === 'paused';
}

/** start: it has no task. */
export function canStart(s: ContainerStatus): boolean {
  return s === 'created' || s === 'stopped';
}

export function canPause(s: ContainerStatus): boolean {
  return s === 'running';
}

export function canUnpause(s: ContainerStatus): boolean {
  return s === 'paused';
}

/** exec: only into a process that runs (a frozen one could not start the exec'd process). */
export function canExec(s: ContainerStatus): boolean {
  return s === 'running';
}

/** stop, kill, stats, top: there must be a task to signal or read. */
export function canSignal(s: ContainerStatus): boolean {
  return isLive(s);
}

/** remove without force: nothing runs; with force, a live task is killed first. */
export function canRemove(s: ContainerStatus, force: boolean): boolean {
  return force || !isLive(s);
}

/** Recording the same status again (to change other fields) is always allowed. */
export function canTransition(from: ContainerStatus, to: ContainerStatus): boolean {
  return from === to || NEXT[from].includes(to);
}

/** Throws a failed precondition naming the container when `from → to` is not a transition. */
export function checkTransition(name: string, from: ContainerStatus, to: ContainerStatus): void {
  if (!canTransition(from, to))
    throw failedPrecondition(
      `container ${name} is ${from}: it cannot become ${to} (expected ${CONTAINER_STATUSES.filter((s) => NEXT[s].includes(to)).join(' or ')})`,
    );
}
