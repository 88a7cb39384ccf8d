/*
 * berth-pause: the init of a pod sandbox (docs/cri.md). It holds the pod's namespaces open while the
 * pod's containers come and go, and, as pid 1 of the pod's PID namespace, reaps the zombies that
 * containers sharing it leave behind. It exits 0 on SIGINT or SIGTERM and does nothing else.
 * Static and tiny, so berthd runs it from a directory of its own with no image to pull.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    puts("berth-pause 1");
    return 0;
  }
  /* Blocked except inside sigsuspend: a signal between the test of `stop` and the wait cannot be lost. */
  sigset_t block, orig;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &block, &orig) < 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return 1;
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, NULL) < 0) return 2;
  /* Zombies that arrived before the handler was in place. */
  on_child(SIGCHLD);
  while (!stop) sigsuspend(&orig);
  return 0;
}
