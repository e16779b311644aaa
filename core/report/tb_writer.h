/* A TensorBoard events file (tb_event.h has the format): one new file per
 * writer, DIR/events.out.tfevents.<unix seconds>.<host>.<pid>.<n>, created
 * with O_EXCL and only ever appended to. A resumed run opens a new writer,
 * so a new file beside the old ones; TensorBoard reads every file of a
 * directory in name order as one run.
 *
 * Records are buffered in memory and written by ns_tb_flush (the trainer
 * flushes once per epoch, so a live TensorBoard sees each epoch as it ends)
 * and by ns_tb_writer_close. Every call returns NS_OK or an error naming the
 * file; after an error the writer stays usable (the failed records are lost). */
#ifndef NS_REPORT_TB_WRITER_H
#define NS_REPORT_TB_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "noisystudent/status.h"

typedef struct ns_tb_writer ns_tb_writer;

/* Creates DIR (and parents) if needed and a new events file in it whose first
 * record is the file_version event. *out is owned by the caller
 * (ns_tb_writer_close). */
ns_status ns_tb_writer_open(const char *dir, ns_tb_writer **out);
/* Flushes and closes; NULL is a no-op. Returns the flush's status. */
ns_status ns_tb_writer_close(ns_tb_writer *w);
/* The events file's path (owned by the writer). */
const char *ns_tb_writer_path(const ns_tb_writer *w);

ns_status ns_tb_scalar(ns_tb_writer *w, int64_t step, const char *tag, double value);
/* pixels: width x height x channels (1..4) bytes, HWC; encoded as PNG here. */
ns_status ns_tb_image(ns_tb_writer *w, int64_t step, const char *tag, const uint8_t *pixels, int width, int height,
                      int channels);
/* An already encoded PNG (its size and channels as the IHDR says). */
ns_status ns_tb_image_png(ns_tb_writer *w, int64_t step, const char *tag, const void *png, size_t len, int width,
                          int height, int channels);
ns_status ns_tb_text(ns_tb_writer *w, int64_t step, const char *tag, const char *markdown);
/* TensorBoard forgets what earlier files logged at steps >= step. */
ns_status ns_tb_session_start(ns_tb_writer *w, int64_t step);
/* Writes the buffered records to the file. */
ns_status ns_tb_flush(ns_tb_writer *w);

#endif
