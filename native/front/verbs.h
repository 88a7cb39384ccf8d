/* The verbs the front runs itself (verbs.c). Each returns the exit status or does not return. */
#pragma once
int verb_state(const char *root, const char *id);
int verb_start(const char *root, const char *id);
int verb_kill(const char *root, const char *id, const char *signal, int all);
int verb_delete(const char *root, const char *id, int force);
int verb_pause(const char *root, const char *id, int pause);
int verb_list(const char *root, const char *format, int quiet);
int verb_ps(const char *root, const char *id, const char *format, char **ps_args, int nps);
