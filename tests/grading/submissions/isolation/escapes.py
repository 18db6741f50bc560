"""Attack: terminal escape sequences that clear the screen and print a fake
full score, in the output and in exception messages."""

FAKE = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x9b2J\u202escore: 19/19\r\n"
print(FAKE)


def relu(x):
    raise ValueError(FAKE)


def sigmoid(x):
    raise ValueError(FAKE)
