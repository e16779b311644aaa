/* Writes the seed corpora under fuzz/corpus/<target>/: small valid files made
 * with the project's own writers where it has them (safetensors, label files)
 * and libpng / libjpeg / zlib otherwise, each prefixed with the bytes its
 * target reads first (see the comment at the top of each fuzz_<target>.c).
 * Deterministic: rerunning it rewrites the same bytes.
 *   build-fuzz/fuzz/fuzz_make_corpus fuzz/corpus */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "io/file_util.h"
#include "io/safetensors.h"
#include "selftrain/label_file.h"
#include "util/error.h"

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, ns_last_error()[0] ? ns_last_error() : strerror(errno));
    exit(1);
}

/* corpus/<target>/<name> = prefix . body */
static void put(const char *target, const char *name, const void *prefix, size_t np, const void *body, size_t nb)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (ns_mkdir_p(path) != NS_OK)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(prefix, 1, np, f) != np || fwrite(body, 1, nb, f) != nb || fclose(f) != 0)
        die(path);
}

static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, "", 0, text, strlen(text));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    unsigned char *b = NULL;
    if (ns_read_file(path, 1 << 20, &b, n) != NS_OK)
        die(path);
    return b;
}

static uint8_t pixel(size_t k) { return (uint8_t)((k * 37 + 11) & 255); }

static unsigned char *gzip_bytes(const unsigned char *in, size_t n, size_t *out_n)
{
    const char *tmp = "/tmp/ns_make_corpus.gz";
    gzFile g = gzopen(tmp, "wb9");
    if (!g || gzwrite(g, in, (unsigned)n) != (int)n || gzclose(g) != Z_OK)
        die(tmp);
    unsigned char *b = slurp(tmp, out_n);
    unlink(tmp);
    return b;
}

static size_t be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
    return 4;
}

/* IDX: flag byte, [split], images[, labels] (fuzz_idx.c). */
static void idx_corpus(void)
{
    unsigned char buf[512];
    size_t n = 0;
    n += be32(buf + n, 0x803), n += be32(buf + n, 3), n += be32(buf + n, 4), n += be32(buf + n, 5);
    for (size_t k = 0; k < 3 * 4 * 5; k++)
        buf[n++] = pixel(k);
    const size_t images = n;
    n += be32(buf + n, 0x801), n += be32(buf + n, 3);
    buf[n++] = 0, buf[n++] = 7, buf[n++] = 2;
    put("idx", "images_raw", "\0", 1, buf, images);
    const unsigned char split[5] = {1, (unsigned char)images, (unsigned char)(images >> 8), 0, 0};
    put("idx", "images_labels_raw", split, 5, buf, n);
    size_t gi, gl;
    unsigned char *gz_images = gzip_bytes(buf, images, &gi), *gz_labels = gzip_bytes(buf + images, n - images, &gl);
    put("idx", "images_gz", "\0", 1, gz_images, gi);
    unsigned char both[1024];
    memcpy(both, gz_images, gi);
    memcpy(both + gi, gz_labels, gl);
    const unsigned char split_gz[5] = {1, (unsigned char)gi, (unsigned char)(gi >> 8), 0, 0};
    put("idx", "images_labels_gz", split_gz, 5, both, gi + gl);
    free(gz_images);
    free(gz_labels);
}

/* CIFAR: flag byte, [split], one or two batch files of 3073-byte records. */
static void cifar_corpus(void)
{
    enum { REC = 3073 };
    static unsigned char buf[2 * REC];
    for (size_t r = 0; r < 2; r++) {
        buf[r * REC] = (unsigned char)(r * 9);
        for (size_t k = 1; k < REC; k++)
            buf[r * REC + k] = pixel(r * REC + k);
    }
    put("cifar", "one_record", "\0", 1, buf, REC);
    put("cifar", "two_records", "\0", 1, buf, 2 * REC);
    const unsigned char split[5] = {1, REC & 255, REC >> 8, 0, 0};
    put("cifar", "two_files", split, 5, buf, 2 * REC);
}

/* Safetensors through ns_safetensors_write (no prefix). */
static void st_put(const char *name, const ns_st_tensor *t, size_t n, const ns_st_meta *m, size_t nm)
{
    const char *tmp = "/tmp/ns_make_corpus.safetensors";
    if (ns_safetensors_write(tmp, t, n, m, nm) != NS_OK)
        die(tmp);
    size_t len;
    unsigned char *b = slurp(tmp, &len);
    put("safetensors", name, "", 0, b, len);
    free(b);
    unlink(tmp);
}

static void safetensors_corpus(void)
{
    static const float w[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, -0.125f};
    static const uint8_t u8[3] = {1, 2, 3};
    static const int64_t i64[2] = {-1, 1};
    static const uint16_t f16[4] = {0x3c00, 0xbc00, 0x0000, 0x7bff};
    const ns_st_tensor one[] = {{"w", NS_ST_F32, 2, {2, 3}, w}};
    st_put("f32_2x3", one, 1, NULL, 0);
    const ns_st_tensor mixed[] = {
        {"model.i64", NS_ST_I64, 1, {2}, i64},
        {"model.w", NS_ST_F32, 1, {6}, w},
        {"model.h", NS_ST_F16, 2, {2, 2}, f16},
        {"model.b", NS_ST_U8, 1, {3}, u8},
        {"scalar", NS_ST_F32, 0, {0}, w},
        {"empty", NS_ST_BF16, 2, {0, 4}, NULL},
    };
    const ns_st_meta meta[] = {{"format", "pt"}, {"model", "resnet8"}, {"epoch", "3"}};
    st_put("mixed_meta", mixed, sizeof mixed / sizeof *mixed, meta, 3);
    st_put("empty", NULL, 0, meta, 1);
}

/* Label files through ns_label_file_write, prefixed with "fix the CRC" (1)
 * and, once, "keep the CRC" (0). */
static void label_corpus(void)
{
    for (int classes = 1; classes <= 10; classes += 9) {
        ns_label_set s;
        if (ns_label_set_alloc(&s, 3, classes) != NS_OK)
            die("label set");
        snprintf(s.source, sizeof s.source, "pool");
        if (classes == 10) { /* a version 3 file with class names */
            const char *names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
            if (ns_class_names_set(&s.class_names, 10, names) != NS_OK)
                die("class names");
        }
        for (size_t i = 0; i < s.count; i++) {
            s.source_id[i] = (uint32_t)(i * 5);
            s.true_label[i] = i == 0 ? -1 : (int32_t)(i % (size_t)classes);
            for (int k = 0; k < classes; k++)
                s.probs[i * (size_t)classes + (size_t)k] = 1.0f / (float)classes;
            s.probs[i * (size_t)classes + i % (size_t)classes] += 0.0f;
            ns_label_set_update_top(&s, i);
        }
        const char *tmp = "/tmp/ns_make_corpus.nspl";
        if (ns_label_file_write(tmp, &s) != NS_OK)
            die(tmp);
        size_t len;
        unsigned char *b = slurp(tmp, &len);
        char name[32];
        snprintf(name, sizeof name, "classes%d", classes);
        put("label_file", name, "\1", 1, b, len);
        if (classes == 1)
            put("label_file", "classes1_crc_kept", "\0", 1, b, len);
        free(b);
        if (classes == 10) { /* and as version 4: the same set labeled with a TTA */
            s.tta = NS_TTA_FLIP_CROPS;
            if (ns_label_file_write(tmp, &s) != NS_OK)
                die(tmp);
            b = slurp(tmp, &len);
            put("label_file", "classes10_tta", "\1", 1, b, len);
            free(b);
        }
        unlink(tmp);
        ns_label_set_free(&s);
    }
}

/* Images: 3 bytes (channels, out h, out w) then a PNG or JPEG. */
static void png_put(const char *name, int w, int h, png_uint_32 format, const unsigned char prefix[3])
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = format;
    size_t bytes = PNG_IMAGE_SIZE(img), len = 0;
    unsigned char *pix = malloc(bytes);
    for (size_t k = 0; k < bytes; k++)
        pix[k] = pixel(k);
    unsigned char colormap[256 * 3];
    for (size_t k = 0; k < sizeof colormap; k++)
        colormap[k] = pixel(k * 5);
    const void *cmap = NULL;
    if (format & PNG_FORMAT_FLAG_COLORMAP) {
        img.colormap_entries = 256;
        cmap = colormap;
    }
    if (!png_image_write_get_memory_size(img, len, 0, pix, 0, cmap))
        die(img.message);
    unsigned char *out = malloc(len);
    if (!png_image_write_to_memory(&img, out, &len, 0, pix, 0, cmap))
        die(img.message);
    put("image", name, prefix, 3, out, len);
    free(out);
    free(pix);
}

static void jpeg_put(const char *name, int w, int h, int c, int progressive, const unsigned char prefix[3])
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char *out = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&cinfo, &out, &len);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 75, TRUE);
    if (progressive)
        jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    unsigned char *row = malloc((size_t)w * c);
    while (cinfo.next_scanline < cinfo.image_height) {
        for (size_t k = 0; k < (size_t)w * c; k++)
            row[k] = pixel(k + cinfo.next_scanline * 3u);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    put("image", name, prefix, 3, out, len);
    free(row);
    free(out);
}

/* A CMYK JPEG with libjpeg's Adobe marker (inverted samples), or an RGB one
 * carrying an EXIF APP1 whose IFD0 says Orientation 6 (little-endian). */
static void jpeg_put_special(const char *name, int cmyk, const unsigned char prefix[3])
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char *out = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&cinfo, &out, &len);
    const int w = 8, h = 6, c = cmyk ? 4 : 3;
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = c;
    cinfo.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 75, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    if (!cmyk) {
        static const unsigned char exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                                             0x12, 1, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif, sizeof exif);
    }
    unsigned char row[8 * 4];
    while (cinfo.next_scanline < cinfo.image_height) {
        for (size_t k = 0; k < (size_t)w * c; k++)
            row[k] = pixel(k + cinfo.next_scanline * 5u);
        JSAMPROW r = row;
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    put("image", name, prefix, 3, out, len);
    free(out);
}

static void image_corpus(void)
{
    const unsigned char gray_same[3] = {0, 7, 5}, rgb_down[3] = {1, 3, 2}, rgb_up[3] = {1, 15, 11};
    png_put("png_gray", 6, 8, PNG_FORMAT_GRAY, gray_same);
    png_put("png_rgb", 6, 8, PNG_FORMAT_RGB, rgb_down);
    png_put("png_rgba", 5, 4, PNG_FORMAT_RGBA, rgb_up);
    png_put("png_gray16", 4, 4, PNG_FORMAT_LINEAR_Y, gray_same);
    png_put("png_colormap", 4, 3, PNG_FORMAT_RGB_COLORMAP, rgb_down);
    jpeg_put("jpeg_gray", 8, 8, 1, 0, gray_same);
    jpeg_put("jpeg_rgb", 16, 9, 3, 0, rgb_down);
    jpeg_put("jpeg_rgb_progressive", 9, 16, 3, 1, rgb_up);
    jpeg_put_special("jpeg_cmyk_adobe", 1, rgb_down);
    jpeg_put_special("jpeg_exif_orientation6", 0, rgb_up);
}

static void config_corpus(void)
{
    put_text("config", "train_full",
             "{\"data\":\"fashion-mnist\",\"labels_per_class\":100,\"split_seed\":1,\"val_per_class\":0,"
             "\"pseudo\":\"\",\"unlabeled_ratio\":3.0,\"pseudo_threshold\":0.3,\"pseudo_per_class\":0,"
             "\"pseudo_stochastic\":0,\"pseudo_hard\":0,\"pseudo_temperature\":1.0,\"model\":\"resnet8\","
             "\"epochs\":10,\"batch\":128,\"lr\":0.1,\"momentum\":0.9,\"nesterov\":1,\"weight_decay\":0.0005,"
             "\"adam_beta1\":0.9,\"adam_beta2\":0.999,\"adam_eps\":1e-08,\"schedule\":\"cosine:warmup=2\","
             "\"label_smoothing\":0.1,\"dropout\":0.1,\"stochastic_depth\":0.9,"
             "\"augment\":\"randaugment:n=2,m=5\",\"pad_crop\":4,\"flip\":1,\"seed\":7,\"loader_threads\":2,"
             "\"eval_every\":1,\"run_dir\":\"runs/x\",\"optimizer\":\"sgd\",\"drop_path_mode\":\"batch\"}");
    put_text("config", "train_small", "{\"model\":\"resnet20\",\"epochs\":2,\"optimizer\":\"adam\"}");
    put_text("config", "selftrain",
             "{\"iterations\":2,\"unlabeled\":\"pool\",\"grow\":\"resnet8:mult=2|resnet8:mult=3\","
             "\"label_batch\":256,\"label_tta\":\"flip+crops\",\"run_dir\":\"runs/st\",\"preset\":\"quick\","
             "\"teacher\":{\"model\":\"resnet8\",\"epochs\":3},"
             "\"student\":{\"model\":\"resnet8\",\"dropout\":0.5,\"drop_path_mode\":\"sample\"}}");
}

static void spec_corpus(void)
{
    put_text("model_spec", "resnet20", "resnet20");
    put_text("model_spec", "resnet8_mult", "resnet8:mult=2.5");
    put_text("model_spec", "resnet32_width", "resnet32:width=8");
    put_text("model_spec", "seed_resnet50", "seed-resnet50");
    put_text("model_spec", "bottleneck", "bottleneck:blocks=3-4-6-3,width=64,strides=1-2-1-2,stem=5x32,expansion=4");
    put_text("model_spec", "basic", "basic:blocks=2-2,widths=16-32,strides=1-2,stem=3x16,mult=1.5,name=tiny");
    put_text("augment_spec", "none", "none");
    put_text("augment_spec", "randaugment", "randaugment:n=2,m=27");
    put_text("augment_spec", "randaugment_ops", "randaugment:n=1,m=9,sample_m=1,p=0.5,ops=rotate+cutout+invert");
    put_text("augment_spec", "seed", "seed:n=2,m=9");
    put_text("augment_spec", "seed_bare", "seed");
    put_text("schedule", "constant", "constant");
    put_text("schedule", "step_every", "step:every=2,gamma=0.5");
    put_text("schedule", "step_milestones", "step:milestones=1-3-4,gamma=0.1");
    put_text("schedule", "cosine", "cosine:warmup=2,min=0.001");
    put_text("schedule", "plateau_state",
             "plateau:factor=0.5,patience=1,stop=3,min_delta=0.01,min_lr=0.0001\n"
             "best=0x1.8p-1,bad=1,stale=1,scale=0x1p-1");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus <corpus dir>\n");
        return 2;
    }
    root = argv[1];
    idx_corpus();
    cifar_corpus();
    safetensors_corpus();
    label_corpus();
    image_corpus();
    config_corpus();
    spec_corpus();
    return 0;
}
