/* TensorBoard's event records, encoded by hand (tb_proto.h says why).
 *
 * An events file is a sequence of TFRecords:
 *   uint64 length (LE) | uint32 masked CRC-32C of those 8 bytes |
 *   length bytes of data | uint32 masked CRC-32C of the data
 * and each record's data is one serialized tensorflow.Event. The fields used
 * (field number, wire type) and nothing else:
 *   Event          wall_time 1 double, step 2 int64, file_version 3 string,
 *                  summary 5 Summary, session_log 6 SessionLog
 *   SessionLog     status 1 enum (START = 1)
 *   Summary        value 1 repeated Summary.Value
 *   Summary.Value  tag 1 string, simple_value 2 float, image 4 Summary.Image,
 *                  tensor 8 TensorProto, metadata 9 SummaryMetadata
 *   Summary.Image  height 1 int32, width 2 int32, colorspace 3 int32
 *                  (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), encoded_image_string 4 bytes
 *   SummaryMetadata  plugin_data 1 PluginData { plugin_name 1 string }
 *   TensorProto    dtype 1 enum (DT_STRING = 7), tensor_shape 2 (empty: a scalar),
 *                  string_val 8 repeated bytes
 * The first record of a file is an Event with file_version "brain.Event:2".
 *
 * Each ns_tb_event_* appends one framed record to `out` (an ns_pb used as a
 * plain byte buffer); allocation failures are reported by ns_pb_status(out). */
#ifndef NS_REPORT_TB_EVENT_H
#define NS_REPORT_TB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "report/tb_proto.h"

#define NS_TB_FILE_VERSION "brain.Event:2"

/* Frames n bytes of record data as one TFRecord appended to out. */
void ns_tb_frame(ns_pb *out, const void *data, size_t n);

void ns_tb_event_file_version(ns_pb *out, double wall_time);
/* A restart marker at `step`: TensorBoard drops what older files logged at
 * steps >= step (a resumed run retrains those steps). */
void ns_tb_event_session_start(ns_pb *out, double wall_time, int64_t step);
void ns_tb_event_scalar(ns_pb *out, double wall_time, int64_t step, const char *tag, float value);
/* png: an encoded PNG of width x height with `channels` 1..4 (its colorspace). */
void ns_tb_event_image(ns_pb *out, double wall_time, int64_t step, const char *tag, const void *png, size_t png_len,
                       int width, int height, int channels);
/* A text summary for TensorBoard's text plugin (rendered as Markdown). */
void ns_tb_event_text(ns_pb *out, double wall_time, int64_t step, const char *tag, const char *text);

#endif
