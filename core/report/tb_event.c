#include "report/tb_event.h"

#include <string.h>

#include "report/tb_crc32c.h"

/* Field numbers of the messages in tb_event.h. */
enum {
    EV_WALL_TIME = 1, EV_STEP = 2, EV_FILE_VERSION = 3, EV_SUMMARY = 5, EV_SESSION_LOG = 6,
    LOG_STATUS = 1, LOG_START = 1,
    SUM_VALUE = 1,
    VAL_TAG = 1, VAL_SIMPLE = 2, VAL_IMAGE = 4, VAL_TENSOR = 8, VAL_METADATA = 9,
    IMG_HEIGHT = 1, IMG_WIDTH = 2, IMG_COLORSPACE = 3, IMG_ENCODED = 4,
    META_PLUGIN_DATA = 1, PLUGIN_NAME = 1,
    TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_STRING_VAL = 8, DT_STRING = 7,
};

static void put_u32(ns_pb *out, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ns_pb_raw(out, b, 4);
}

void ns_tb_frame(ns_pb *out, const void *data, size_t n)
{
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)n >> (8 * i));
    ns_pb_raw(out, len, 8);
    put_u32(out, ns_crc32c_mask(ns_crc32c(len, 8)));
    ns_pb_raw(out, data, n);
    put_u32(out, ns_crc32c_mask(ns_crc32c(data, n)));
}

/* Frames the event and releases it. */
static void emit(ns_pb *out, ns_pb *ev)
{
    if (ev->failed)
        out->failed = 1;
    else
        ns_tb_frame(out, ev->data, ev->len);
    ns_pb_free(ev);
}

static void event_head(ns_pb *ev, double wall_time, int64_t step)
{
    ns_pb_double(ev, EV_WALL_TIME, wall_time);
    ns_pb_int(ev, EV_STEP, step);
}

/* Event{wall_time, step, summary{value}} from one Summary.Value; frees value. */
static void emit_value(ns_pb *out, double wall_time, int64_t step, ns_pb *value)
{
    ns_pb summary = {0}, ev = {0};
    ns_pb_message(&summary, SUM_VALUE, value);
    event_head(&ev, wall_time, step);
    ns_pb_message(&ev, EV_SUMMARY, &summary);
    ns_pb_free(&summary);
    ns_pb_free(value);
    emit(out, &ev);
}

void ns_tb_event_file_version(ns_pb *out, double wall_time)
{
    ns_pb ev = {0};
    event_head(&ev, wall_time, 0);
    ns_pb_string(&ev, EV_FILE_VERSION, NS_TB_FILE_VERSION);
    emit(out, &ev);
}

void ns_tb_event_session_start(ns_pb *out, double wall_time, int64_t step)
{
    ns_pb log = {0}, ev = {0};
    ns_pb_int(&log, LOG_STATUS, LOG_START);
    event_head(&ev, wall_time, step);
    ns_pb_message(&ev, EV_SESSION_LOG, &log);
    ns_pb_free(&log);
    emit(out, &ev);
}

void ns_tb_event_scalar(ns_pb *out, double wall_time, int64_t step, const char *tag, float value)
{
    ns_pb v = {0};
    ns_pb_string(&v, VAL_TAG, tag);
    ns_pb_float(&v, VAL_SIMPLE, value);
    emit_value(out, wall_time, step, &v);
}

void ns_tb_event_image(ns_pb *out, double wall_time, int64_t step, const char *tag, const void *png, size_t png_len,
                       int width, int height, int channels)
{
    ns_pb img = {0}, v = {0};
    ns_pb_int(&img, IMG_HEIGHT, height);
    ns_pb_int(&img, IMG_WIDTH, width);
    ns_pb_int(&img, IMG_COLORSPACE, channels);
    ns_pb_bytes(&img, IMG_ENCODED, png, png_len);
    ns_pb_string(&v, VAL_TAG, tag);
    ns_pb_message(&v, VAL_IMAGE, &img);
    ns_pb_free(&img);
    emit_value(out, wall_time, step, &v);
}

void ns_tb_event_text(ns_pb *out, double wall_time, int64_t step, const char *tag, const char *text)
{
    ns_pb plugin = {0}, meta = {0}, shape = {0}, tensor = {0}, v = {0};
    ns_pb_string(&plugin, PLUGIN_NAME, "text");
    ns_pb_message(&meta, META_PLUGIN_DATA, &plugin);
    ns_pb_int(&tensor, TENSOR_DTYPE, DT_STRING);
    ns_pb_message(&tensor, TENSOR_SHAPE, &shape); /* no dims: a scalar string */
    ns_pb_bytes(&tensor, TENSOR_STRING_VAL, text, strlen(text));
    ns_pb_string(&v, VAL_TAG, tag);
    ns_pb_message(&v, VAL_TENSOR, &tensor);
    ns_pb_message(&v, VAL_METADATA, &meta);
    ns_pb_free(&plugin);
    ns_pb_free(&meta);
    ns_pb_free(&shape);
    ns_pb_free(&tensor);
    emit_value(out, wall_time, step, &v);
}
