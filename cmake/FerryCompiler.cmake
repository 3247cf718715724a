# Warnings, sanitizers and fuzzing flags shared by every ferry target.
# Targets opt in with ferry_target_defaults(<target>).

option(FERRY_WERROR "treat warnings as errors (CI always does)" ON)
set(FERRY_WARNINGS
    -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wvla
    -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wundef)
if(FERRY_WERROR)
  list(APPEND FERRY_WARNINGS -Werror)
endif()

if(FERRY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(FERRY_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FERRY_FUZZ needs clang: configure with CC=clang")
  endif()
  # Instrument everything for coverage; only fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

function(ferry_target_defaults target)
  target_compile_options(${target} PRIVATE ${FERRY_WARNINGS})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()
