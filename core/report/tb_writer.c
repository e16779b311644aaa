#include "report/tb_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/file_util.h"
#include "report/png_memory.h"
#include "report/tb_event.h"
#include "util/error.h"

struct ns_tb_writer {
    int fd;
    ns_pb pending; /* framed records not yet written */
    char path[1200];
};

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Moves what the encoders appended to pending into an error when they ran out of memory. */
static ns_status pending_status(ns_tb_writer *w)
{
    if (!w->pending.failed)
        return NS_OK;
    ns_pb_free(&w->pending);
    return ns_fail(NS_ERR_NOMEM, "%s: out of memory buffering TensorBoard records", w->path);
}

ns_status ns_tb_writer_open(const char *dir, ns_tb_writer **out)
{
    *out = NULL;
    NS_TRY(ns_mkdir_p(dir));
    ns_tb_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ns_fail(NS_ERR_NOMEM, "TensorBoard writer: out of memory");
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    long secs = (long)time(NULL);
    /* <n> keeps two writers of one process in one second apart (tests; a
     * selftrain's stages run one after another in one process). */
    w->fd = -1;
    for (int n = 0; n < 1000 && w->fd < 0; n++) {
        snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%ld.%s.%ld.%d", dir, secs, host, (long)getpid(), n);
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->fd < 0 && errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        ns_status st = ns_fail(NS_ERR_IO, "%s: cannot create a TensorBoard events file: %s", w->path, strerror(errno));
        free(w);
        return st;
    }
    ns_tb_event_file_version(&w->pending, wall_time());
    ns_status st = pending_status(w);
    if (st == NS_OK)
        st = ns_tb_flush(w);
    if (st != NS_OK) {
        close(w->fd);
        unlink(w->path);
        ns_pb_free(&w->pending);
        free(w);
        return st;
    }
    *out = w;
    return NS_OK;
}

const char *ns_tb_writer_path(const ns_tb_writer *w)
{
    return w->path;
}

ns_status ns_tb_flush(ns_tb_writer *w)
{
    size_t off = 0;
    while (off < w->pending.len) {
        ssize_t n = write(w->fd, w->pending.data + off, w->pending.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ns_status st = ns_fail(NS_ERR_IO, "%s: writing %zu bytes of TensorBoard records: %s", w->path,
                                   w->pending.len - off, n < 0 ? strerror(errno) : "nothing written");
            w->pending.len = 0;
            return st;
        }
        off += (size_t)n;
    }
    w->pending.len = 0;
    return NS_OK;
}

ns_status ns_tb_writer_close(ns_tb_writer *w)
{
    if (!w)
        return NS_OK;
    ns_status st = ns_tb_flush(w);
    if (close(w->fd) != 0 && st == NS_OK)
        st = ns_fail(NS_ERR_IO, "%s: close: %s", w->path, strerror(errno));
    ns_pb_free(&w->pending);
    free(w);
    return st;
}

ns_status ns_tb_scalar(ns_tb_writer *w, int64_t step, const char *tag, double value)
{
    ns_tb_event_scalar(&w->pending, wall_time(), step, tag, (float)value);
    return pending_status(w);
}

ns_status ns_tb_image_png(ns_tb_writer *w, int64_t step, const char *tag, const void *png, size_t len, int width,
                          int height, int channels)
{
    ns_tb_event_image(&w->pending, wall_time(), step, tag, png, len, width, height, channels);
    return pending_status(w);
}

ns_status ns_tb_image(ns_tb_writer *w, int64_t step, const char *tag, const uint8_t *pixels, int width, int height,
                      int channels)
{
    uint8_t *png;
    size_t len;
    NS_TRY(ns_png_encode(pixels, width, height, channels, &png, &len));
    ns_status st = ns_tb_image_png(w, step, tag, png, len, width, height, channels);
    free(png);
    return st;
}

ns_status ns_tb_text(ns_tb_writer *w, int64_t step, const char *tag, const char *markdown)
{
    ns_tb_event_text(&w->pending, wall_time(), step, tag, markdown);
    return pending_status(w);
}

ns_status ns_tb_session_start(ns_tb_writer *w, int64_t step)
{
    ns_tb_event_session_start(&w->pending, wall_time(), step);
    return pending_status(w);
}
