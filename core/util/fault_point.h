/* Fault points: named places where a test can make the process die, so that
 * the short windows (between a temp file's write and its rename, between the
 * metrics record and the checkpoint) are hit on purpose instead of by luck.
 *
 * Off unless the environment asks (one getenv per process, then a counter):
 *   NS_FAULT_KILL_AT=N   the Nth point this process reaches raises SIGKILL
 *                        (no cleanup, no atexit: what a power cut or the OOM
 *                        killer does to the process);
 *   NS_FAULT_KILL_MATCH=S  with NS_FAULT_KILL_AT: count only the points whose
 *                        name contains S (the Nth checkpoint rename, say);
 *   NS_FAULT_ACTION=stop raise SIGSTOP there instead: the test changes the
 *                        world (fills the disk) and sends SIGCONT;
 *   NS_FAULT_TRACE=FILE  each point appends "<N> <name>\n" to FILE (a test
 *                        counts a clean run's points and learns where a
 *                        killed run died).
 * Main-thread only (the counter is not atomic; loader threads have none).
 * This counter is the one piece of process state kept for tests; a run that
 * sets neither variable only pays a branch per point.
 */
#ifndef NS_UTIL_FAULT_POINT_H
#define NS_UTIL_FAULT_POINT_H

/* `name` says where ("ckpt:renamed", "train:step"); it is only traced. */
void ns_fault_point(const char *name);

#endif
