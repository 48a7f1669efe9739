"""Functions the broken pipelines beside this file name (each file gets one thing wrong)."""


def shout(text: str) -> str:
    return text.upper() + "!"


def untyped(text):
    return text


not_a_function = 42
