/* crc32c.h -- CRC32C (Castagnoli) with a hardware path chosen once. */
#ifndef RW_CRC32C_H
#define RW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over len bytes. Standard CRC32C conventions:
 * rw_crc32c(0, "123456789", 9) == 0xE3069283. Uses the SSE4.2 / ARMv8 CRC
 * instructions when the CPU has them, else a table-driven fallback. */
uint32_t rw_crc32c(uint32_t crc, const void *buf, size_t len);

/* Copies len bytes from src to dst (which must not overlap, as for memcpy)
 * and returns rw_crc32c(crc, src, len), reading each source byte once.
 * len 0 touches neither pointer. */
uint32_t rw_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len);

/* The two implementations, exposed for tests and benchmarks. */
uint32_t rw_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t rw_crc32c_hw(uint32_t crc, const void *buf, size_t len);
uint32_t rw_crc32c_copy_sw(uint32_t crc, void *dst, const void *src, size_t len);
uint32_t rw_crc32c_copy_hw(uint32_t crc, void *dst, const void *src, size_t len);
/* 1 if rw_crc32c_hw() may be called on this CPU. */
int rw_crc32c_hw_available(void);

#endif
