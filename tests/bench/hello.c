/* Benchmark baseline: the smallest libmicrohttpd server in the gateway's threading mode,
 * answering a fixed JSON body. Usage: bench-hello PORT [THREADS]. Stops on SIGINT/SIGTERM. */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

static enum MHD_Result s_hello(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state)
{
    static const char body[] = "{\"status\":\"healthy\"}";
    (void) cls; (void) url; (void) method; (void) version; (void) data; (void) size;
    if (!*state) {          /* answer on the second call: the first one forces Connection: close */
        *state = (void *) 1;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    unsigned threads = argc > 2 ? (unsigned) atoi(argv[2]) : 2;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                                            (uint16_t) atoi(argv[1]), NULL, NULL, s_hello, NULL,
                                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                                            MHD_OPTION_END);
    if (!d)
        return 1;
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
