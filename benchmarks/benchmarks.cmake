# C++ benchmarks (Google Benchmark), included when YEP_BUILD_BENCHMARKS is ON.
find_package(benchmark)
if(NOT benchmark_FOUND)
  message(FATAL_ERROR "Google Benchmark not found: apt-get install libbenchmark-dev")
endif()
