# What yep needs to build, checked before anything else (included before
# the compilers are enabled): every missing piece is named in ONE message,
# with the Debian and Fedora packages that provide it, rather than CMake
# stopping at the first (a missing compiler) and then asking in turn.
#
# Headers are looked for where distributions install them; libraries through
# pkg-config (itself one of the things checked).

set(_yep_missing "")
function(_yep_missing what debian fedora)
  set(_yep_missing "${_yep_missing}\n  - ${what}: apt-get install ${debian} | dnf install ${fedora}" PARENT_SCOPE)
endfunction()

# Compilers: CC / CXX when set, else the usual names.
if(DEFINED ENV{CC} AND NOT "$ENV{CC}" STREQUAL "")
  find_program(_yep_c NAMES "$ENV{CC}")
else()
  find_program(_yep_c NAMES cc gcc clang)
endif()
if(DEFINED ENV{CXX} AND NOT "$ENV{CXX}" STREQUAL "")
  find_program(_yep_cxx NAMES "$ENV{CXX}")
else()
  find_program(_yep_cxx NAMES c++ g++ clang++)
endif()
if(NOT _yep_c OR NOT _yep_cxx)
  _yep_missing("a C and C++ compiler" "g++" "gcc-c++")
endif()

find_program(_yep_pkg_config NAMES pkg-config pkgconf)
if(NOT _yep_pkg_config)
  _yep_missing("pkg-config" "pkg-config" "pkgconf-pkg-config")
endif()

set(_yep_include_dirs /usr/include /usr/local/include ${CMAKE_PREFIX_PATH})
macro(_yep_need header module what debian fedora)
  find_path(_yep_found_${module} ${header} PATHS ${_yep_include_dirs} PATH_SUFFIXES include)
  set(_yep_ok TRUE)
  if(NOT _yep_found_${module})
    set(_yep_ok FALSE)
  elseif(_yep_pkg_config)
    execute_process(COMMAND ${_yep_pkg_config} --exists ${module} RESULT_VARIABLE _yep_pkg_status)
    if(NOT _yep_pkg_status EQUAL 0)
      set(_yep_ok FALSE)
    endif()
  endif()
  if(NOT _yep_ok)
    _yep_missing("${what}" "${debian}" "${fedora}")
  endif()
endmacro()
_yep_need(gperftools/profiler.h libprofiler "gperftools (libprofiler, libtcmalloc)" libgoogle-perftools-dev gperftools-devel)
_yep_need(elfutils/libdw.h libdw "elfutils' libdw" libdw-dev elfutils-devel)
_yep_need(zlib.h zlib "zlib" zlib1g-dev zlib-devel)

# The Python headers (and pybind11, a build requirement from PyPI) of the
# Python the package is built for.
if(SKBUILD)
  set(_yep_python "${Python_EXECUTABLE}")
  if(NOT _yep_python)
    set(_yep_python "${Python3_EXECUTABLE}")
  endif()
  if(_yep_python)
    execute_process(COMMAND "${_yep_python}" -c "import sysconfig; print(sysconfig.get_paths()['include'])"
                    OUTPUT_VARIABLE _yep_python_include OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND "${_yep_python}" -c "import sys; print('%d.%d' % sys.version_info[:2])"
                    OUTPUT_VARIABLE _yep_python_version OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT EXISTS "${_yep_python_include}/Python.h")
      _yep_missing("the headers of Python ${_yep_python_version} (${_yep_python_include}/Python.h)"
                   "python${_yep_python_version}-dev" "python${_yep_python_version}-devel")
    endif()
    execute_process(COMMAND "${_yep_python}" -m pybind11 --cmakedir RESULT_VARIABLE _yep_pybind11_status
                    OUTPUT_QUIET ERROR_QUIET)
    find_file(_yep_pybind11_config pybind11Config.cmake PATHS /usr /usr/local ${CMAKE_PREFIX_PATH}
              PATH_SUFFIXES lib/cmake/pybind11 share/cmake/pybind11 NO_DEFAULT_PATH)
    if(NOT _yep_pybind11_status EQUAL 0 AND NOT _yep_pybind11_config)
      _yep_missing("pybind11 (a build requirement: pip installs it with `pip install .`)" "pybind11-dev"
                   "pybind11-devel")
    endif()
  endif()
endif()

if(_yep_missing)
  message(FATAL_ERROR "yep cannot be built here; missing:${_yep_missing}\n"
                      "Install them, then build again (a wheel from `make wheel` needs none of them).")
endif()
