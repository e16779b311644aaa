/* The Noisy Student loop: teacher -> label -> filter/balance -> noised student,
 * K times, each student the next teacher (optionally a larger model each
 * iteration). Every stage writes into the run directory and is skipped when
 * its output is already there, and a training stage interrupted mid-way
 * resumes from its last epoch, so an interrupted selftrain continues where it
 * stopped and ends with the same result as an uninterrupted one.
 *
 * A stage is reused or continued only when it was made from what the run has
 * now: its configuration (config.json) must equal the run's, a label file
 * must record the SHA-256 of the current teacher's model.safetensors, and a
 * student must record (config.json: pseudo_sha256) the SHA-256 of the current
 * labels.nspl. Otherwise selftrain stops with one line naming the file, what
 * it was made from, what the run has now and what to remove; it never
 * deletes a stage by itself.
 *
 * Run directory:
 *   selftrain.json            the configuration (written once; --resume reads it)
 *   teacher/                  a train run directory (trainer.h)
 *   iterK/labels.nspl         the K-th teacher's pseudo-labels of the unlabeled pool
 *   iterK/student/            the K-th student's train run directory
 *   report.json, report.md    teacher and students' test accuracies side by side */
#ifndef NS_SELFTRAIN_SELFTRAIN_H
#define NS_SELFTRAIN_SELFTRAIN_H

#include <stdio.h>

#include <jansson.h>

#include "plugin/backend_loader.h"
#include "predict/tta.h"
#include "train/train_config.h"

#define NS_SELFTRAIN_MAX_ITER 8

typedef struct ns_selftrain_config {
    ns_train_config teacher;     /* data, split and everything of the teacher run */
    ns_train_config student;     /* the student runs (data and split forced equal to the teacher's) */
    int iterations;              /* K >= 1 */
    char unlabeled[512];         /* what the teachers label: "pool" (default) or a source (labeler.h) */
    /* Student model of each iteration, '|'-separated ("resnet8:mult=2|resnet8:mult=3");
     * "" = student.model every time. Fewer entries than iterations: the last repeats. */
    char grow[512];
    int label_batch;
    /* Test-time augmentation of every label stage (predict/tta.h; JSON key
     * "label_tta", absent = none): recorded in selftrain.json so a resume
     * labels the same way, and in each labels.nspl so a label file made with
     * another TTA is not reused. */
    ns_tta label_tta;
    char run_dir[512];
    char preset[32];             /* informational: the preset it started from */
    /* Wall-time budget of the whole run in seconds (0 = none, each stage
     * trains its epochs): the teacher may use teacher_share of it, and each
     * student, when it starts, what is left shared among the students still
     * to come (labeling reserved); every stage then fits its epochs (at most
     * its configured ones) to its share (train/budget.h). A stage's share
     * and fitted epochs are in its config.json, so a resume keeps them. */
    double budget_s;
    /* The teacher's share of budget_s, in (0, 1) (JSON "teacher_share";
     * absent = 0.25, what every run before the key had). A teacher trained
     * longer labels better, a student given less time learns less of it:
     * the trade is measured in the README ("The same-compute baseline"). */
    double teacher_share;
} ns_selftrain_config;

typedef struct ns_selftrain_result {
    int done;                    /* 0: paused by a stop_after_epoch */
    double teacher_acc;
    double student_acc[NS_SELFTRAIN_MAX_ITER];
    int iterations_done;
    double seconds;
} ns_selftrain_result;

/* The presets: "quick" (the README's main job) and "full" (the benchmark run).
 * NS_ERR_USAGE for another name. */
ns_status ns_selftrain_preset(const char *name, ns_selftrain_config *out);

json_t *ns_selftrain_config_to_json(const ns_selftrain_config *c);
ns_status ns_selftrain_config_from_json(const json_t *j, const char *where, ns_selftrain_config *c);

/* Every stage's configuration as ns_selftrain would run it (the teacher, each
 * iteration's student with its grown model and the teacher's split), the
 * unlabeled source and the counts: NS_ERR_USAGE with one line naming the
 * setting ("--student.schedule plateau: ...", "--grow, iteration 2's ...").
 * Creates nothing. ns_selftrain runs it first. */
ns_status ns_selftrain_config_validate(const ns_selftrain_config *c);

/* Runs (or, with resume, continues) the loop on `be`, one line per epoch and
 * the per-class pseudo-label tables to `out` (NULL: silent). */
ns_status ns_selftrain(const ns_selftrain_config *cfg, ns_backend *be, int resume, FILE *out,
                       ns_selftrain_result *res);

#endif
