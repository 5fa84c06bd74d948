from feedapp.cli import main

if __name__ == "__main__":  # the guard matters: demo clips are made in spawned worker processes
    raise SystemExit(main())
