/*
 * demo_payload.c -- the deterministic entries `raftwal demo` writes; the
 * rule is stated in demo_payload.h.
 */
#include <stdio.h>
#include <string.h>

#include "demo_payload.h"

size_t demo_payload_size(uint64_t index)
{
    return 16 + (size_t)((index * 37u) % 1000u);
}

uint32_t demo_payload_type(uint64_t index)
{
    return index % 8u == 0 ? 1u : 0u;
}

size_t demo_payload(uint64_t index, uint64_t term, unsigned char *buf)
{
    size_t size = demo_payload_size(index);

    if (demo_payload_type(index) == 1) {
        for (size_t i = 0; i < size; i++)
            buf[i] = (unsigned char)((index * 131u + term * 31u + i * 7u) & 0xffu);
    } else {
        char pattern[64];
        int n = snprintf(pattern, sizeof pattern, "entry %llu term %llu; ",
                         (unsigned long long)index, (unsigned long long)term);
        for (size_t i = 0; i < size; i++)
            buf[i] = (unsigned char)pattern[i % (size_t)n];
    }
    return size;
}
