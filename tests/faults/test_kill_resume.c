/* Kill anywhere, resume identically.
 *
 * A small `noisystudent selftrain` on ref (tiny ResNet, 120 images, every
 * stage: teacher, labeling, filtering, two students) runs once cleanly. Then
 * the same run is killed with SIGKILL 20 times, each time resumed with
 * `selftrain --resume` (or started again when even selftrain.json was not in
 * place), and finally let finish. The kill points come from a seeded stream:
 * the first in the very first write; every fifth by time (a fraction of the
 * clean run's duration: anywhere, inside a write() too); the others at the
 * Nth fault point of some kind from where the process starts (a teacher or
 * student training step, a labeled batch, the filter, each step of every
 * atomic write: temp opened, written, synced, renamed; the gap between an
 * epoch's metrics record and its checkpoint), each kind once from a shuffled
 * deck, then at random. A process that finishes before its kill point ends
 * a chain: its result is checked, a new chain starts, the aim is tried again.
 *
 * Proves: every file of the killed-and-resumed run is the clean run's (each
 * stage's model.safetensors and checkpoint, labels, configs, report.md byte
 * for byte; metrics.jsonl record by record with timings aside, each epoch
 * exactly once), and no "*.tmp.<pid>" file is left anywhere. The kills are
 * listed with the stage they hit, and the test checks they covered every
 * stage. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults_util.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"

#define KILLS 20

static char root[1024], data[1200], run[1200], clean[1200];

/* Runs the next process of the chain: a resume when the run has begun (its
 * selftrain.json is written first), else the fresh command. */
static fx_exit run_once(const char *const *env, const char *log, double kill_after_s)
{
    char *argv[FX_ARGV_MAX];
    fx_selftrain_argv(argv, NS_CLI_PATH, data, run, 4, 3, 2);
    return fx_run(argv, env, log, kill_after_s);
}

static void show_log(const char *log)
{
    char *t = fx_slurp(log, NULL);
    print_message("---- %s\n%s----\n", log, t ? t : "(none)");
    free(t);
}

/* Which stage the run was in when killed, from what it had finished. */
static const char *stage_of(const char *last_point)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/teacher/model.safetensors", run);
    if (!fx_exists(p))
        return "teacher";
    for (int k = 1; k <= 2; k++) {
        snprintf(p, sizeof p, "%s/iter%d/labels.nspl", run, k);
        if (!fx_exists(p))
            return "label";
        snprintf(p, sizeof p, "%s/iter%d/student/model.safetensors", run, k);
        if (!fx_exists(p)) {
            /* from the label file to the student's first step: the filter,
             * its summary and the stage's config.json */
            if (strstr(last_point, "train:") || strstr(last_point, "checkpoint.") || strstr(last_point, "metrics.") ||
                strstr(last_point, "model."))
                return "student";
            return "filter";
        }
    }
    return "report";
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(root, sizeof root, "%s/faults_kill", tmp && *tmp ? tmp : "/tmp");
    fx_remove_tree(root);
    mkdir(root, 0755);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(clean, sizeof clean, "%s/clean", root);
    return ns_test_write_synthetic_hard(data, 30, 20, 11, 80, 160) == 0 ? 0 : -1;
}

static void test_kill_anywhere_resume_identically(void **state)
{
    (void)state;
    char log[1300], trace[1300], env_trace[1400], env_kill[64], env_match[128];
    /* The clean run, at the same path as the killed one (checkpoints record
     * their run directory), then moved aside. */
    snprintf(log, sizeof log, "%s/clean.log", root);
    snprintf(trace, sizeof trace, "%s/clean.trace", root);
    snprintf(env_trace, sizeof env_trace, "NS_FAULT_TRACE=%s", trace);
    const char *env_clean[] = {env_trace, NULL};
    fx_exit e = run_once(env_clean, log, 0);
    if (e.code != 0)
        show_log(log);
    assert_int_equal(e.code, 0);
    assert_int_equal(rename(run, clean), 0);
    const long points = fx_count_lines(trace);
    const double t_clean = e.seconds;
    print_message("clean run: %.1fs, %ld fault points\n", t_clean, points);
    assert_true(points > 50);

    /* Where to aim: a name part of the fault points and how many of them to
     * pass at most ("" is any point). A shuffled deck of these comes first,
     * so that each kind of moment is aimed at once; the rest draw at random. */
    typedef struct aim {
        const char *match;
        long max_n;
    } aim;
    /* an atomic write passes 4 points: temp opened, written, synced, renamed */
    aim aims[] = {{"train:step:teacher", 12},
                  {"train:step:student", 20},
                  {"atomic:checkpoint.safetensors:", 8},
                  {"train:metrics-written", 3},
                  {"atomic:metrics.jsonl:", 8},
                  {"label:batch", 2},
                  {"atomic:labels.nspl:", 4},
                  {"filter:balanced", 1},
                  {"atomic:pseudo_labels.json:", 4},
                  {"atomic:model.safetensors:", 4},
                  {"atomic:config.json:", 4},
                  {"atomic:report", 8},
                  {"", 2 * points / KILLS}};
    const long n_aims = (long)(sizeof aims / sizeof *aims);
    uint64_t rng = 0x5eedf00du;
    for (long i = n_aims - 1; i > 0; i--) {
        long j = fx_uniform(&rng, 0, i);
        aim t = aims[i];
        aims[i] = aims[j];
        aims[j] = t;
    }
    int kills = 0, chains = 1, procs = 0, aimed = 0;
    int seen_teacher = 0, seen_label = 0, seen_filter = 0, seen_student = 0;
    int seen_ckpt = 0, seen_step = 0, seen_sstep = 0;
    while (kills < KILLS) {
        snprintf(log, sizeof log, "%s/proc%d.log", root, procs);
        snprintf(trace, sizeof trace, "%s/proc%d.trace", root, procs);
        snprintf(env_trace, sizeof env_trace, "NS_FAULT_TRACE=%s", trace);
        procs++;
        const char *env[4] = {env_trace, NULL, NULL, NULL};
        double after = 0;
        char how[160];
        int from_deck = 0;
        if (kills % 5 == 4) {
            after = t_clean * (double)fx_uniform(&rng, 2, 30) / 100.0;
            snprintf(how, sizeof how, "after %.2fs", after);
        } else {
            /* the first kill lands in the very first write (selftrain.json):
             * the user then starts the run again without --resume */
            static const aim first = {"atomic:selftrain.json:", 4};
            from_deck = kills > 0 && aimed < n_aims;
            const aim *a = kills == 0 ? &first
                           : from_deck ? &aims[aimed++]
                                       : &aims[fx_uniform(&rng, 0, n_aims - 1)];
            long n = fx_uniform(&rng, 1, a->max_n);
            snprintf(env_kill, sizeof env_kill, "NS_FAULT_KILL_AT=%ld", n);
            snprintf(env_match, sizeof env_match, "NS_FAULT_KILL_MATCH=%s", a->match);
            env[1] = env_kill;
            env[2] = env_match;
            snprintf(how, sizeof how, "at %s #%ld", a->match[0] ? a->match : "any point", n);
        }
        e = run_once(env, log, after);
        if (e.signal == SIGKILL) {
            char last[200];
            fx_last_line(trace, last, sizeof last);
            const char *stage = stage_of(last);
            print_message("kill %2d %-44s -> %-8s last point: %s\n", kills + 1, how, stage,
                          last[0] ? last : "(none yet)");
            seen_teacher += !strcmp(stage, "teacher");
            seen_label += !strcmp(stage, "label");
            seen_filter += !strcmp(stage, "filter");
            seen_student += !strcmp(stage, "student");
            seen_ckpt += strstr(last, "checkpoint.safetensors") != NULL;
            seen_step += strstr(last, "train:step:teacher") != NULL;
            seen_sstep += strstr(last, "train:step:student") != NULL;
            kills++;
            continue;
        }
        if (e.code != 0) {
            show_log(log);
            fail_msg("process %d (%s) failed with exit %d, signal %d", procs, how, e.code, e.signal);
        }
        /* it finished before its kill point: check this chain, start another,
         * and aim there again (each kind of moment in the deck is hit) */
        print_message("   (the run finished before %s: chain %d complete)\n", how, chains);
        if (from_deck)
            aimed--;
        assert_true(fx_same_run(clean, run));
        assert_int_equal(fx_count_temps(run), 0);
        fx_remove_tree(run);
        chains++;
    }
    snprintf(log, sizeof log, "%s/final.log", root);
    const char *none[] = {NULL};
    e = run_once(none, log, 0);
    if (e.code != 0)
        show_log(log);
    assert_int_equal(e.code, 0);
    print_message("%d kills over %d processes and %d chain(s): teacher %d, label %d, filter %d, student %d; "
                  "%d in a checkpoint write, %d after a teacher step, %d after a student step\n",
                  kills, procs + 1, chains, seen_teacher, seen_label, seen_filter, seen_student, seen_ckpt, seen_step,
                  seen_sstep);
    assert_true(fx_same_run(clean, run));
    assert_int_equal(fx_count_temps(run), 0);
    /* The seeded plan must have reached every stage (a change that shifts the
     * points may need another seed: the list above shows where kills fell). */
    assert_true(seen_teacher && seen_label && seen_filter && seen_student && seen_ckpt && seen_step && seen_sstep);
}

/* The two restarts that are not --resume: a run killed inside its first
 * write (selftrain.json) is started again with the same command, and a stage
 * killed before its first checkpoint is begun afresh by the resume. Neither
 * may leave the killed write's temp behind once the run is done (in the
 * chain above a later --resume hides the first; here nothing does). */
static void test_restarted_runs_leave_no_temp(void **state)
{
    (void)state;
    static const char *const first_writes[] = {"atomic:selftrain.json:tmp-written", "atomic:config.json:tmp-written"};
    for (size_t i = 0; i < sizeof first_writes / sizeof *first_writes; i++) {
        fx_remove_tree(run);
        char log[1300], env_match[128];
        snprintf(log, sizeof log, "%s/restart%zu.log", root, i);
        snprintf(env_match, sizeof env_match, "NS_FAULT_KILL_MATCH=%s", first_writes[i]);
        const char *env[] = {"NS_FAULT_KILL_AT=1", env_match, NULL};
        fx_exit e = run_once(env, log, 0);
        assert_int_equal(e.signal, SIGKILL);
        assert_true(fx_count_temps(run) == 1); /* the kill left its temp */
        const char *none[] = {NULL};
        e = run_once(none, log, 0);
        if (e.code != 0)
            show_log(log);
        assert_int_equal(e.code, 0);
        assert_true(fx_same_run(clean, run));
        assert_int_equal(fx_count_temps(run), 0);
    }
}

/* A run that stops early (plateau schedule) killed after its last epoch but
 * before model.safetensors: the resume must not train past the stop. */
static void test_early_stop_killed_before_model(void **state)
{
    (void)state;
    char dirs[2][1300], log[1300];
    for (int k = 0; k < 2; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/early%d", root, k);
        fx_remove_tree(dirs[k]);
    }
    char *argv[] = {NS_CLI_PATH, "train", "--backend", "ref", "--threads", "1", "--data", data,
                    "--labels-per-class", "6", "--val-per-class", "2", "--model", "resnet8:width=4", "--epochs", "12",
                    "--batch", "4", "--lr", "0.05", "--schedule", "plateau:patience=0,stop=2", "--run-dir", dirs[0],
                    NULL};
    snprintf(log, sizeof log, "%s/early.log", root);
    const char *none[] = {NULL};
    fx_exit e = fx_run(argv, none, log, 0);
    assert_int_equal(e.code, 0);
    char *out = fx_slurp(log, NULL);
    assert_non_null(out);
    assert_non_null(strstr(out, "stopped early")); /* else this test proves nothing */
    free(out);
    argv[23] = dirs[1];
    assert_true(argv[24] == NULL);
    const char *env[] = {"NS_FAULT_KILL_AT=1", "NS_FAULT_KILL_MATCH=atomic:model.safetensors:opened", NULL};
    e = fx_run(argv, env, log, 0);
    assert_int_equal(e.signal, SIGKILL);
    char *resume[] = {NS_CLI_PATH, "train", "--resume", dirs[1], "--backend", "ref", "--threads", "1", NULL};
    e = fx_run(resume, none, log, 0);
    if (e.code != 0)
        show_log(log);
    assert_int_equal(e.code, 0);
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/model.safetensors", dirs[0]);
    snprintf(b, sizeof b, "%s/model.safetensors", dirs[1]);
    /* byte for byte but for the run directory recorded inside: the weights
     * and the position */
    assert_true(ns_test_same_weights(a, b));
    ns_ckpt_info ia, ib;
    assert_int_equal(ns_checkpoint_read_info(a, &ia), NS_OK);
    assert_int_equal(ns_checkpoint_read_info(b, &ib), NS_OK);
    if (ia.epoch != ib.epoch || ia.step != ib.step)
        fail_msg("%s ends at epoch %d step %lld, the uninterrupted run at epoch %d step %lld (trained past the "
                 "early stop)", b, ib.epoch, (long long)ib.step, ia.epoch, (long long)ia.step);
    snprintf(a, sizeof a, "%s/metrics.jsonl", dirs[0]);
    snprintf(b, sizeof b, "%s/metrics.jsonl", dirs[1]);
    assert_int_equal(fx_count_lines(a), fx_count_lines(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_anywhere_resume_identically),
        cmocka_unit_test(test_restarted_runs_leave_no_temp),
        cmocka_unit_test(test_early_stop_killed_before_model),
    };
    return cmocka_run_group_tests_name("faults_kill_resume", tests, setup, NULL);
}
