/* crash_fs.c -- see crash_fs.h. */
#include "crash_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One version of a file's content. */
typedef struct version {
    uint8_t *data;
    size_t size;
} version;

/* A file, by identity (inode numbers can be reused after an unlink, so the
 * model gives each created file its own id). */
typedef struct file {
    unsigned id;
    ino_t ino;
    int live;      /* the inode is still the current holder of `ino` */
    version *v;    /* v[0] durable, v[nv-1] newest */
    size_t nv, cap;
} file;

typedef struct dentry {
    char name[64];
    unsigned id;
} dentry;

typedef struct names {
    dentry *d;
    size_t n, cap;
} names;

enum { DIROP_CREATE, DIROP_RENAME, DIROP_UNLINK };

typedef struct dirop {
    int kind;
    char name[64], name2[64];
    unsigned id;
} dirop;

struct cfs {
    ino_t dir_ino;
    file *files;
    size_t nfiles, files_cap;
    names durable, current;
    dirop *ops;
    size_t nops, ops_cap;
};

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "crash_fs: out of memory\n");
        abort();
    }
    return p;
}

cfs *cfs_new(ino_t dir_ino)
{
    cfs *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->dir_ino = dir_ino;
    return m;
}

static void drop_versions(file *f, size_t keep_from)
{
    for (size_t i = 0; i < keep_from; i++)
        free(f->v[i].data);
    memmove(f->v, f->v + keep_from, (f->nv - keep_from) * sizeof *f->v);
    f->nv -= keep_from;
}

void cfs_free(cfs *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfiles; i++) {
        drop_versions(&m->files[i], m->files[i].nv);
        free(m->files[i].v);
    }
    free(m->files);
    free(m->durable.d);
    free(m->current.d);
    free(m->ops);
    free(m);
}

/* ---------------------------------------------------------------------- */
/* Names                                                                  */
/* ---------------------------------------------------------------------- */

static dentry *names_find(names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->d[i].name, name) == 0)
            return &ns->d[i];
    return NULL;
}

static void names_set(names *ns, const char *name, unsigned id)
{
    dentry *d = names_find(ns, name);
    if (!d) {
        if (ns->n == ns->cap) {
            ns->cap = ns->cap ? ns->cap * 2 : 16;
            ns->d = xrealloc(ns->d, ns->cap * sizeof *ns->d);
        }
        d = &ns->d[ns->n++];
        snprintf(d->name, sizeof d->name, "%s", name);
    }
    d->id = id;
}

static void names_remove(names *ns, const char *name)
{
    dentry *d = names_find(ns, name);
    if (d)
        *d = ns->d[--ns->n];
}

static void names_copy(names *dst, const names *src)
{
    if (dst->cap < src->n) {
        dst->cap = src->n;
        dst->d = xrealloc(dst->d, dst->cap * sizeof *dst->d);
    }
    if (src->n)
        memcpy(dst->d, src->d, src->n * sizeof *src->d);
    dst->n = src->n;
}

static void dirop_apply(names *ns, const dirop *op)
{
    switch (op->kind) {
    case DIROP_CREATE:
        names_set(ns, op->name, op->id);
        break;
    case DIROP_RENAME:
        names_remove(ns, op->name);
        names_set(ns, op->name2, op->id);
        break;
    case DIROP_UNLINK:
        names_remove(ns, op->name);
        break;
    }
}

static void push_dirop(cfs *m, int kind, const char *name, const char *name2, unsigned id)
{
    if (m->nops == m->ops_cap) {
        m->ops_cap = m->ops_cap ? m->ops_cap * 2 : 16;
        m->ops = xrealloc(m->ops, m->ops_cap * sizeof *m->ops);
    }
    dirop *op = &m->ops[m->nops++];
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    snprintf(op->name2, sizeof op->name2, "%s", name2 ? name2 : "");
    op->id = id;
    dirop_apply(&m->current, op);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */
/* ---------------------------------------------------------------------- */

static file *file_by_ino(cfs *m, ino_t ino)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (m->files[i].live && m->files[i].ino == ino)
            return &m->files[i];
    return NULL;
}

static const file *file_by_id(const cfs *m, unsigned id)
{
    return id < m->nfiles ? &m->files[id] : NULL;
}

static file *file_new(cfs *m, ino_t ino)
{
    file *old = file_by_ino(m, ino);
    if (old)
        old->live = 0; /* the inode number was reused */
    if (m->nfiles == m->files_cap) {
        m->files_cap = m->files_cap ? m->files_cap * 2 : 16;
        m->files = xrealloc(m->files, m->files_cap * sizeof *m->files);
    }
    file *f = &m->files[m->nfiles];
    memset(f, 0, sizeof *f);
    f->id = (unsigned)m->nfiles++;
    f->ino = ino;
    f->live = 1;
    f->cap = 4;
    f->v = xrealloc(NULL, f->cap * sizeof *f->v);
    f->v[0] = (version){NULL, 0};
    f->nv = 1;
    return f;
}

/* Adds a new newest version (a copy of the current one, resized). */
static version *new_version(file *f, size_t size)
{
    if (f->nv == f->cap) {
        f->cap *= 2;
        f->v = xrealloc(f->v, f->cap * sizeof *f->v);
    }
    const version *cur = &f->v[f->nv - 1];
    version *nv = &f->v[f->nv++];
    nv->size = size;
    nv->data = xrealloc(NULL, size);
    size_t keep = cur->size < size ? cur->size : size;
    if (keep)
        memcpy(nv->data, cur->data, keep);
    if (size > keep)
        memset(nv->data + keep, 0, size - keep);
    return nv;
}

static void file_sync(file *f)
{
    if (f->nv > 1)
        drop_versions(f, f->nv - 1);
}

void cfs_add_durable(cfs *m, const char *name, ino_t ino, const uint8_t *data, size_t size)
{
    file *f = file_new(m, ino);
    f->v[0].size = size;
    f->v[0].data = xrealloc(NULL, size);
    if (size)
        memcpy(f->v[0].data, data, size);
    names_set(&m->durable, name, f->id);
    names_set(&m->current, name, f->id);
}

void cfs_apply(cfs *m, const ff_rec *r)
{
    file *f;
    switch (r->op) {
    case FF_OPENAT:
        if (r->dir_ino != m->dir_ino)
            break; /* another directory (repair backups): not modelled */
        if (r->created) {
            f = file_new(m, r->ino);
            push_dirop(m, DIROP_CREATE, r->name, NULL, f->id);
        } else if (r->truncated && (f = file_by_ino(m, r->ino)) != NULL) {
            new_version(f, 0);
        }
        break;
    case FF_PWRITE:
        if ((f = file_by_ino(m, r->ino)) != NULL) {
            size_t cur = f->v[f->nv - 1].size, end = (size_t)r->off + r->len;
            version *v = new_version(f, end > cur ? end : cur);
            memcpy(v->data + r->off, r->data, r->len);
        }
        break;
    case FF_FTRUNCATE:
        if ((f = file_by_ino(m, r->ino)) != NULL)
            new_version(f, (size_t)r->off);
        break;
    case FF_FDATASYNC:
    case FF_FSYNC:
        if (r->ino && (f = file_by_ino(m, r->ino)) != NULL) {
            file_sync(f);
        } else if (!r->ino && r->dir_ino == m->dir_ino) {
            names_copy(&m->durable, &m->current);
            m->nops = 0;
        }
        break;
    case FF_RENAMEAT: {
        if (r->dir_ino != m->dir_ino)
            break;
        dentry *d = names_find(&m->current, r->name);
        if (d)
            push_dirop(m, DIROP_RENAME, r->name, r->name2, d->id);
        break;
    }
    case FF_UNLINKAT:
        if (r->dir_ino == m->dir_ino && names_find(&m->current, r->name))
            push_dirop(m, DIROP_UNLINK, r->name, NULL, 0);
        break;
    default:
        break;
    }
}

size_t cfs_pending_dirops(const cfs *m)
{
    return m->nops;
}

size_t cfs_pending_versions(const cfs *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        n += m->files[i].nv - 1;
    return n;
}

/* ---------------------------------------------------------------------- */
/* Crash states                                                           */
/* ---------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *rng)
{
    *rng += 0x9e3779b97f4a7c15ull;
    return mix(*rng);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Sector s of version v (zeros past its end). */
static void copy_sector(uint8_t *dst, size_t dst_size, const version *v, size_t s)
{
    size_t off = s * CFS_SECTOR;
    size_t n = off + CFS_SECTOR <= dst_size ? CFS_SECTOR : dst_size - off;
    size_t have = v->size > off ? v->size - off : 0;
    if (have > n)
        have = n;
    if (have)
        memcpy(dst + off, v->data + off, have);
    if (n > have)
        memset(dst + off + have, 0, n - have);
}

/* The content a crash leaves of file f, chosen by mode. */
static void build_file(const file *f, int mode, uint64_t *rng, cfs_file *out, int *torn)
{
    size_t last = f->nv - 1;
    if ((mode != CFS_RANDOM && mode != CFS_RANDOM_REORDER) || last == 0) {
        const version *v = &f->v[mode == CFS_DROP_ALL ? 0 : last];
        out->size = v->size;
        out->data = xrealloc(NULL, v->size);
        if (v->size)
            memcpy(out->data, v->data, v->size);
        return;
    }
    /* Four shapes of a random crash, from gentle to adversarial. */
    size_t t = (size_t)(rnd(rng) % (last + 1)); /* a point in time */
    int shape = (int)(rnd(rng) % 4);
    size_t size = f->v[t].size;
    if (shape == 1 && t < last && f->v[t + 1].size > size && rnd(rng) % 2)
        size = f->v[t + 1].size; /* the size of the next write made it */
    if (shape == 3)
        size = f->v[rnd(rng) % (last + 1)].size;
    out->size = size;
    out->data = xrealloc(NULL, size);
    size_t nsec = (size + CFS_SECTOR - 1) / CFS_SECTOR;
    for (size_t s = 0; s < nsec; s++) {
        size_t ver = t; /* shape 0: everything up to t, in order */
        if (shape == 1 && t < last && rnd(rng) % 2)
            ver = t + 1; /* the write after t is torn: some of its sectors */
        else if (shape >= 2)
            ver = (size_t)(rnd(rng) % (last + 1)); /* any order, per sector */
        if (ver != t)
            *torn = 1;
        copy_sector(out->data, size, &f->v[ver], s);
    }
}

/* Is `name` one of the n names in set? */
static int in_set(char (*set)[64], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], name) == 0)
            return 1;
    return 0;
}

/* Applies a random subset of the pending directory operations to ns, such
 * that each name's operations that persist are a prefix of that name's
 * operations (a rename counts for both its names: it is atomic, so it can
 * only persist after every earlier operation on either name). Walking the
 * operations in order, one that touches a name whose earlier operation was
 * left out must be left out too; any other persists or not at random. Every
 * such subset can come up. */
static void apply_subset(const cfs *m, names *ns, uint64_t *rng)
{
    char (*blocked)[64] = xrealloc(NULL, (2 * m->nops + 1) * sizeof *blocked);
    size_t nblocked = 0;
    /* The chance to keep an operation, in 1/64ths, drawn per state: so
     * that states with a single lost operation and states with most of
     * them lost both come up often. */
    unsigned keep = (unsigned)(rnd(rng) % 65);
    for (size_t i = 0; i < m->nops; i++) {
        const dirop *op = &m->ops[i];
        int rename = op->kind == DIROP_RENAME;
        int must_drop = in_set(blocked, nblocked, op->name) ||
                        (rename && in_set(blocked, nblocked, op->name2));
        if (!must_drop && rnd(rng) % 64 < keep) {
            dirop_apply(ns, op);
            continue;
        }
        if (!in_set(blocked, nblocked, op->name))
            snprintf(blocked[nblocked++], 64, "%s", op->name);
        if (rename && !in_set(blocked, nblocked, op->name2))
            snprintf(blocked[nblocked++], 64, "%s", op->name2);
    }
    free(blocked);
}

void cfs_build(const cfs *m, int mode, uint64_t *rng, cfs_image *out)
{
    memset(out, 0, sizeof *out);
    names ns = {0};
    names_copy(&ns, &m->durable);
    if (mode == CFS_RANDOM_REORDER) {
        apply_subset(m, &ns, rng);
    } else {
        size_t p = mode == CFS_DROP_ALL ? 0 : mode == CFS_KEEP_ALL ? m->nops : (size_t)(rnd(rng) % (m->nops + 1));
        for (size_t i = 0; i < p; i++)
            dirop_apply(&ns, &m->ops[i]);
    }
    out->files = xrealloc(NULL, ns.n * sizeof *out->files);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < ns.n; i++) {
        cfs_file *cf = &out->files[out->n++];
        snprintf(cf->name, sizeof cf->name, "%s", ns.d[i].name);
        build_file(file_by_id(m, ns.d[i].id), mode, rng, cf, &out->torn);
    }
    /* Hash in name order so equal states hash equal. */
    for (size_t i = 0; i < out->n; i++)
        for (size_t j = i + 1; j < out->n; j++)
            if (strcmp(out->files[j].name, out->files[i].name) < 0) {
                cfs_file tmp = out->files[i];
                out->files[i] = out->files[j];
                out->files[j] = tmp;
            }
    for (size_t i = 0; i < out->n; i++) {
        h = hash_bytes(h, out->files[i].name, strlen(out->files[i].name) + 1);
        h = hash_bytes(h, &out->files[i].size, sizeof out->files[i].size);
        h = hash_bytes(h, out->files[i].data, out->files[i].size);
    }
    out->hash = h;
    free(ns.d);
}

void cfs_image_free(cfs_image *img)
{
    for (size_t i = 0; i < img->n; i++)
        free(img->files[i].data);
    free(img->files);
    memset(img, 0, sizeof *img);
}

int cfs_image_write(const cfs_image *img, const char *path)
{
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int rc = 0;
    for (size_t i = 0; i < img->n && rc == 0; i++) {
        const cfs_file *f = &img->files[i];
        int fd = openat(dfd, f->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        size_t done = 0;
        while (done < f->size) {
            ssize_t w = pwrite(fd, f->data + done, f->size - done, (off_t)done);
            if (w <= 0) {
                rc = w < 0 ? -errno : -EIO;
                break;
            }
            done += (size_t)w;
        }
        close(fd);
    }
    close(dfd);
    return rc;
}
