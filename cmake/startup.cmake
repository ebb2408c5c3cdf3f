# Link choices for start-up time and resident size (issue 4): `wasmgate run`
# should start no slower than wasm3 and stay as small.
#
# 1. Packed relative relocations (DT_RELR, binutils 2.38 and glibc 2.36):
#    the ~1,900 relative relocations of a position-independent wasmgate
#    take 45 KiB as RELA entries, which the loader reads, and so maps, at
#    every start; packed, they take 400 bytes.
include(CheckLinkerFlag)
check_linker_flag(C "-Wl,-z,pack-relative-relocs" WG_HAVE_PACKED_RELOCS)
if(WG_HAVE_PACKED_RELOCS)
  add_link_options("-Wl,-z,pack-relative-relocs")
endif()

# 2. Small libraries, linked statically. Each shared library costs every
#    process start an open, four mmaps, its relocations and about 70 KiB of
#    resident pages (the kernel maps file pages around each fault). The
#    large, server-only libraries (libcurl, libmicrohttpd, libcrypto,
#    SQLite) are loaded on first use instead (src/base/dl.h); these five
#    are small, used by the CLI or the worker processes, and their Debian
#    -dev packages (already installed by tools/setup.sh) ship a static
#    archive built as position-independent code.
#
# The imported targets are made here, GLOBAL, before any subdirectory runs
# pkg_check_modules(<PREFIX> ... IMPORTED_TARGET ...): FindPkgConfig keeps
# an existing PkgConfig::<PREFIX> target, so every subdirectory links the
# archive without changing its CMakeLists.txt. The prefixes must be the ones
# the subdirectories use. Without an archive, or with
# -DWG_STATIC_SMALL_LIBS=OFF, the shared library is linked as before.
option(WG_STATIC_SMALL_LIBS
       "Link jansson, libyaml, PCRE2, zlib and libseccomp statically" ON)
if(WG_STATIC_SMALL_LIBS)
  find_package(PkgConfig REQUIRED)
  # PREFIX:pkg-config module:archive
  foreach(entry JANSSON:jansson:libjansson.a YAML:yaml-0.1:libyaml.a
                PCRE2:libpcre2-8:libpcre2-8.a ZLIB:zlib:libz.a
                SECCOMP:libseccomp:libseccomp.a)
    string(REPLACE ":" ";" entry "${entry}")
    list(GET entry 0 prefix)
    list(GET entry 1 module)
    list(GET entry 2 archive)
    pkg_check_modules(${prefix} REQUIRED ${module})
    find_library(WG_${prefix}_ARCHIVE NAMES ${archive}
                 HINTS ${${prefix}_LIBRARY_DIRS})
    if(WG_${prefix}_ARCHIVE AND NOT TARGET PkgConfig::${prefix})
      add_library(PkgConfig::${prefix} INTERFACE IMPORTED GLOBAL)
      set_target_properties(PkgConfig::${prefix} PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${${prefix}_INCLUDE_DIRS}"
        INTERFACE_COMPILE_OPTIONS "${${prefix}_CFLAGS_OTHER}"
        INTERFACE_LINK_LIBRARIES "${WG_${prefix}_ARCHIVE}")
    elseif(NOT WG_${prefix}_ARCHIVE)
      message(STATUS "${archive} not found: ${module} is linked as a shared library")
    endif()
  endforeach()
endif()
