# Stand-in for ansible-test's get-pip bootstrap, which it would download from a host this machine
# cannot reach: bootstrap pip from the interpreter's own ensurepip, then install the pinned pip.
# Kept valid on old Pythons: ansible-test runs it with every target interpreter.
import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", "--force-reinstall"] + args)


if __name__ == "__main__":
    main()
