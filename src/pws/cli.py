"""Entry points (placeholder while the commands are written)."""
import sys


def main_pws() -> int:
    print("pws")
    return 0


main_mksite = main_rmsite = main_pws

if __name__ == "__main__":
    sys.exit(main_pws())
