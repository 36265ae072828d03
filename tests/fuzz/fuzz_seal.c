/* fuzz_seal -- the SEAL decoder (rw_seal_decode) and, through a real file,
 * a sealed segment's probe (rw_seg_probe) and index footer
 * (rw_seg_load_footer).
 * Input: flags byte, then a whole segment file. The last 64 bytes are the
 * SEAL, decoded under the header's salt; the file is also written to a
 * scratch directory, probed, and its footer loaded when it is sealed. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "raftwal.h"
#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpl[64];

static void remove_dir(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/0000000000000001.wal", tmpl);
    unlink(p);
    rmdir(tmpl);
}

static int scratch_dir(void)
{
    static int fd = -1;
    if (fd < 0) {
        snprintf(tmpl, sizeof tmpl, "%s/raftwal-fuzz-seal-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(tmpl))
            abort();
        fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        atexit(remove_dir);
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *buf = fz_copy(data + 1, len);
    if (flags & FZ_FIX_CRC)
        fz_fix_segment(buf, len);
    if (len >= RW_SEAL_SIZE) {
        uint64_t salt = len >= 40 ? rw_get64(buf + 32) : 0;
        rw_seal seal;
        if (rw_seal_decode(buf + len - RW_SEAL_SIZE, salt, &seal) == 0) {
            uint8_t again[RW_SEAL_SIZE];
            rw_seal_encode(again, salt, &seal);
            FZ_ASSERT(memcmp(again, buf + len - RW_SEAL_SIZE, 32 + RW_SEAL_PAYLOAD) == 0);
        }
    }
    int dfd = scratch_dir();
    int fd = openat(dfd, "0000000000000001.wal", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (len)
            (void)!write(fd, buf, len);
        close(fd);
        rw_seg *s = rw_seg_new(dfd, 1);
        uint64_t id = 0;
        if (s && rw_seg_probe(s, &id) == 0 && s->sealed) {
            FZ_ASSERT(s->used >= RW_HEADER_SIZE && s->used < s->file_size);
            int loaded = 0;
            if (rw_seg_load_footer(s, &loaded) == 0) {
                for (uint64_t i = 0; i < s->count; i++)
                    FZ_ASSERT(s->offsets[i] >= RW_HEADER_SIZE && s->offsets[i] < s->used);
                FZ_ASSERT(s->nepochs >= 1);
            }
        }
        rw_seg_unref(s);
    }
    free(buf);
    return 0;
}
