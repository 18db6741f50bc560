"""Attack: ignore every catchable signal and never finish importing."""

import signal
import time

for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM,
               signal.SIGXCPU, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(number, signal.SIG_IGN)
while True:
    time.sleep(0.05)


def relu(x):
    raise NotImplementedError
