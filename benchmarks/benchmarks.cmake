# C++ benchmarks (Google Benchmark), included when YEP_BUILD_BENCHMARKS is ON.
# They are built with everything else but are not tests: run them by hand,
# e.g. build/py/converter_benchmark, or through `make bench`
# (benchmarks/compare.py), which prints their figures next to the peers'.
find_package(benchmark)
if(NOT benchmark_FOUND)
  message(FATAL_ERROR "Google Benchmark not found: apt-get install libbenchmark-dev")
endif()

# libyepconv on a large CPU profile generated in memory from this process's
# own code addresses and maps: parse, symbolize, text report, load+report.
add_executable(converter_benchmark benchmarks/converter_benchmark.cpp)
target_link_libraries(converter_benchmark PRIVATE yepconv benchmark::benchmark)
target_compile_options(converter_benchmark PRIVATE -Wall -Wextra)
