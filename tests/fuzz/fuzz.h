/*
 * fuzz.h - the one entry point every fuzz target defines. Built two ways from the same source:
 * with clang's libFuzzer (`make fuzz`, coverage-guided campaigns) and with driver.c under the
 * project's own compiler and sanitizers (CTest: each seed corpus plus fresh mutations of it).
 */
#ifndef LOCALSA_FUZZ_H
#define LOCALSA_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
