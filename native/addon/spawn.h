// spawn.h: starting berth-init with posix_spawn and watching it from a thread (spawn.cc).
#ifndef BERTH_ADDON_SPAWN_H
#define BERTH_ADDON_SPAWN_H

#include <napi.h>

namespace berth {

Napi::Value SpawnProcess(const Napi::CallbackInfo &info);
Napi::Value WatchChild(const Napi::CallbackInfo &info);

}  // namespace berth

#endif
