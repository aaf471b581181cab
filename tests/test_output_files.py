"""Output files never destroy data: not an input, not a device, not a link, not on failure."""

import errno
import io
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from conftest import make_blobs

import mixfit.io.data_files
from mixfit import GaussianMixture, KMeans
from mixfit import cli
from mixfit.io.output_files import resolve_output
from mixfit.io import load, save


@pytest.fixture(scope="module")
def X():
    return make_blobs(n_per=(20, 20), seed=3)[0]


@pytest.fixture(scope="module")
def kmeans(X):
    return KMeans(n_clusters=2, random_state=0).fit(X)


@pytest.fixture
def files(tmp_path, X, kmeans):
    """d.npy, d.csv and m.mixfit (a K-means fitted on them) in tmp_path."""
    np.save(tmp_path / "d.npy", X)
    (tmp_path / "d.csv").write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
    save(kmeans, tmp_path / "m.mixfit")
    return tmp_path


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, command, *needles):
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"mixfit {command}: "), err
    for needle in needles:
        assert needle in err, (needle, err)
    assert ".tmp" not in err


def snapshot(folder):
    """Every file in the folder (links not followed) with its bytes or link target."""
    return {p.name: (os.readlink(p) if p.is_symlink() else p.read_bytes())
            for p in folder.iterdir()}


# ------------------------------------------------------------ outputs that are inputs

CASES = {  # argv, output option, its value, the input it must not destroy
    "fit --out": (["fit", "d.npy", "--out", "{o}"], "--out", "d.npy"),
    "fit --labels": (["fit", "d.csv", "--labels", "{o}"], "--labels", "d.csv"),
    "predict --out model": (["predict", "m.mixfit", "d.npy", "--out", "{o}"], "--out",
                            "m.mixfit"),
    "predict --out data": (["predict", "m.mixfit", "d.csv", "--out", "{o}"], "--out", "d.csv"),
}


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "dotted path"])
@pytest.mark.parametrize("case", list(CASES))
def test_an_output_that_is_an_input_is_refused(files, capsys, monkeypatch, case, how):
    argv, option, victim = CASES[case]
    monkeypatch.chdir(files)
    output = {"same path": victim, "symlink": "alias", "hard link": "alias",
              "dotted path": f"./../{files.name}/{victim}"}[how]
    if how == "symlink":
        os.symlink(victim, "alias")
    elif how == "hard link":
        os.link(victim, "alias")
    before = snapshot(files)
    code, out, err = run_cli(capsys, *[a.format(o=output) for a in argv])
    assert_one_line_error(code, err, argv[0], f"{option} '{output}'", f"'{victim}'",
                          "another file")
    assert out == "" and snapshot(files) == before


def test_an_empty_output_path_is_refused(files, capsys, monkeypatch, kmeans):
    # realpath("") is the current folder; an empty --out must not mean stdout either.
    monkeypatch.chdir(files)
    before = snapshot(files)
    code, out, err = run_cli(capsys, "predict", "m.mixfit", "d.npy", "--out", "")
    assert_one_line_error(code, err, "predict", "--out is empty")
    with pytest.raises(FileNotFoundError, match="empty"):
        save(kmeans, "")
    assert out == "" and snapshot(files) == before


def test_two_outputs_that_are_one_file_are_refused(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    os.symlink("new.mixfit", "alias")  # dangling: both would create new.mixfit
    code, _, err = run_cli(capsys, "fit", "d.npy", "--out", "new.mixfit", "--labels", "alias")
    assert_one_line_error(code, err, "fit", "--out 'new.mixfit'", "--labels 'alias'",
                          "give each its own")
    assert not os.path.lexists("new.mixfit")


# ------------------------------------------------- devices, FIFOs, links and stdout


@pytest.fixture
def no_rename_into_dev(monkeypatch):
    """Make renaming onto anything under /dev or /proc fail, so no test can harm them."""
    real_replace = os.replace

    def guarded(source, target, **kwargs):
        if os.path.realpath(os.path.dirname(os.path.abspath(target))).startswith(
                ("/dev", "/proc")) or os.path.abspath(target).startswith(("/dev", "/proc")):
            raise AssertionError(f"renamed a file onto {target}")
        return real_replace(source, target, **kwargs)

    monkeypatch.setattr(os, "replace", guarded)


def read_fifo_in_background(path):
    received = []

    def read():
        with open(path, "rb") as fifo:
            received.append(fifo.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, received


@pytest.mark.parametrize("argv", [["predict", "m.mixfit", "d.npy", "--out"],
                                  ["fit", "d.npy", "-q", "--model", "kmeans", "--out"]],
                         ids=["predict --out", "fit --out"])
def test_a_fifo_is_written_through(files, capsys, monkeypatch, no_rename_into_dev, argv):
    monkeypatch.chdir(files)
    os.mkfifo("pipe")
    reader, received = read_fifo_in_background("pipe")
    code, _, err = run_cli(capsys, *argv, "pipe")
    reader.join(timeout=20)
    assert code == 0, err
    assert not reader.is_alive() and stat.S_ISFIFO(os.lstat("pipe").st_mode)
    if argv[0] == "predict":
        assert received[0].decode().splitlines()[0] == "label"
        assert len(received[0].decode().splitlines()) == 41
    else:  # a zip streamed without seeking still loads
        (files / "copy.mixfit").write_bytes(received[0])
        assert isinstance(load(files / "copy.mixfit"), KMeans)
    assert not [name for name in os.listdir() if name.endswith(".tmp")]


def test_dev_null_is_written_through_and_stays_a_device(files, capsys, monkeypatch,
                                                        no_rename_into_dev, kmeans):
    monkeypatch.chdir(files)
    code, _, err = run_cli(capsys, "fit", "d.npy", "-q", "--labels", os.devnull)
    assert code == 0, err
    save(kmeans, os.devnull)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_gives_exit_2_naming_it(files, capsys, monkeypatch, no_rename_into_dev):
    monkeypatch.chdir(files)
    code, _, err = run_cli(capsys, "predict", "m.mixfit", "d.npy", "--out", "/dev/full")
    assert_one_line_error(code, err, "predict", "--out '/dev/full'", "no space left")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_symlink_survives_and_its_target_gets_the_content(files, capsys, monkeypatch,
                                                            kmeans):
    monkeypatch.chdir(files)
    os.mkdir("store")
    os.symlink("store/labels.csv", "labels.csv")  # dangling until written
    os.symlink("store/m2.mixfit", "m2.mixfit")
    for _ in range(2):  # creating the target, then replacing it
        code, _, err = run_cli(capsys, "fit", "d.npy", "--model", "kmeans", "-q",
                               "--labels", "labels.csv", "--out", "m2.mixfit")
        assert code == 0, err
        save(kmeans, "m2.mixfit")
        assert os.readlink("labels.csv") == "store/labels.csv"
        assert os.readlink("m2.mixfit") == "store/m2.mixfit"
        assert (files / "store" / "labels.csv").read_text().startswith("label\n")
        assert isinstance(load("store/m2.mixfit"), KMeans)
    assert sorted(os.listdir("store")) == ["labels.csv", "m2.mixfit"]


def test_dash_is_stdout_and_the_summary_moves_to_stderr(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    code, out, err = run_cli(capsys, "predict", "m.mixfit", "d.npy", "--out", "-")
    assert code == 0 and err == "" and out.splitlines()[0] == "label" and "wrote" not in out
    code, out, err = run_cli(capsys, "fit", "d.npy", "--labels", "-")
    assert code == 0 and out.splitlines()[0] == "label" and len(out.splitlines()) == 41
    assert "log-likelihood" in err and "log-likelihood" not in out
    assert not os.path.exists("-")
    code, out, err = run_cli(capsys, "fit", "d.npy", "--labels", "-", "--json")
    assert_one_line_error(code, err, "fit", "--json and --labels -")
    assert out == ""


def test_the_model_goes_to_stdout_but_never_to_a_terminal(files, capsysbinary, monkeypatch):
    monkeypatch.chdir(files)
    code = cli.main(["fit", "d.npy", "--model", "kmeans", "--out", "-"])
    out, err = capsysbinary.readouterr()
    assert code == 0 and b"inertia" in err
    assert isinstance(_load_bytes(files, out), KMeans)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code = cli.main(["fit", "d.npy", "--out", "-"])
    out, err = capsysbinary.readouterr()
    assert code == 2 and out == b"" and b"terminal" in err and len(err.splitlines()) == 1


def _load_bytes(folder, data):
    (folder / "from-stdout.mixfit").write_bytes(data)
    return load(folder / "from-stdout.mixfit")


def test_descriptor_paths_are_written_through_at_the_shells_offset(files, capfd, monkeypatch,
                                                                   no_rename_into_dev):
    monkeypatch.chdir(files)
    # capfd puts a regular file on fd 1: opening /proc/self/fd/1 anew would truncate
    # it, and renaming over /dev/stdout would replace the link.
    assert resolve_output("/dev/stdout").fd == 1 and resolve_output("/dev/stdout").is_stdout
    assert resolve_output("/dev/fd/2").kind == "descriptor"
    os.write(1, b"kept\n")
    code = cli.main(["predict", "m.mixfit", "d.npy", "--out", "/proc/self/fd/1"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert out.startswith("kept\nlabel\n") and len(out.splitlines()) == 42


# ------------------------------------------------------------- failing writes


def test_outputs_are_checked_before_the_data_is_read(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    read = []
    monkeypatch.setattr(mixfit.io.data_files, "read_data", lambda *a, **k: read.append(a))
    (files / "bad.csv").write_text("not numbers at all\n\x00\x01")
    code, _, err = run_cli(capsys, "fit", "bad.csv", "--out", "nowhere/m.mixfit")
    assert_one_line_error(code, err, "fit", "--out 'nowhere/m.mixfit'", "folder 'nowhere'",
                          "create it first")
    assert read == []


def test_a_read_only_folder_is_found_before_the_fit(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    fitted = []
    monkeypatch.setattr(GaussianMixture, "fit", lambda self, *a, **k: fitted.append(1))
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and str(files) in os.path.abspath(path):
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    before = snapshot(files)
    code, _, err = run_cli(capsys, "fit", "d.npy", "--labels", "l.csv")
    assert_one_line_error(code, err, "fit", "--labels 'l.csv'", "read-only",
                          "another folder")
    assert fitted == [] and snapshot(files) == before


def half_write_then_disk_full(monkeypatch):
    real_save = np.save

    def half_save(file, array, allow_pickle=True):
        buffer = io.BytesIO()
        real_save(buffer, array, allow_pickle=allow_pickle)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", half_save)


def test_a_full_disk_at_the_final_write_exits_2_and_keeps_the_old_files(files, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(files)
    (files / "l.csv").write_text("label\n7\n")
    before = snapshot(files)
    half_write_then_disk_full(monkeypatch)
    code, _, err = run_cli(capsys, "fit", "d.npy", "-q", "--out", "m.mixfit")
    assert_one_line_error(code, err, "fit", "--out 'm.mixfit'", "no space left")
    monkeypatch.undo()
    monkeypatch.chdir(files)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    code, _, err = run_cli(capsys, "predict", "m.mixfit", "d.npy", "--out", "l.csv")
    assert_one_line_error(code, err, "predict", "--out 'l.csv'", "no space left")
    assert snapshot(files) == before  # old files intact, no temporary file


class FullStream(io.StringIO):
    """Standard output on a full disk: what is written fails when it is flushed."""

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("argv", [["fit", "d.npy"], ["fit", "d.npy", "--json"],
                                  ["predict", "m.mixfit", "d.npy"]],
                         ids=["summary", "json", "predict"])
def test_a_full_stdout_exits_2_instead_of_0(files, capsys, monkeypatch, argv):
    monkeypatch.chdir(files)
    monkeypatch.setattr(sys, "stdout", FullStream())
    code = cli.main(argv)
    assert_one_line_error(code, capsys.readouterr().err, argv[0],
                          "standard output cannot be written", "no space left")


def test_save_errors_name_the_users_path(tmp_path, monkeypatch, kmeans):
    target = tmp_path / "missing" / "m.mixfit"
    with pytest.raises(FileNotFoundError) as caught:
        save(kmeans, target)
    assert caught.value.filename == str(target) and ".tmp" not in str(caught.value)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, "Permission denied", a[0])))
    with pytest.raises(PermissionError) as caught:
        save(kmeans, tmp_path / "m.mixfit")
    assert caught.value.filename == str(tmp_path / "m.mixfit")
    assert os.listdir(tmp_path) == []  # no temporary file left


def test_a_replaced_file_keeps_its_permissions(tmp_path, kmeans):
    path = tmp_path / "private.mixfit"
    path.write_bytes(b"old")
    path.chmod(0o600)
    save(kmeans, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and isinstance(load(path), KMeans)


def test_concurrent_saves_leave_one_complete_model(tmp_path, X, kmeans):
    models = [kmeans, GaussianMixture(n_components=2, random_state=0).fit(X),
              KMeans(n_clusters=3, random_state=0).fit(X)]
    path = tmp_path / "m.mixfit"
    errors = []

    def keep_saving(model):
        try:
            for _ in range(15):
                save(model, path)
        except BaseException as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=keep_saving, args=(m,)) for m in models * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and os.listdir(tmp_path) == ["m.mixfit"]
    loaded = load(path)
    assert any(type(loaded) is type(m) and np.array_equal(
        getattr(loaded, "means_", getattr(loaded, "cluster_centers_", None)),
        getattr(m, "means_", getattr(m, "cluster_centers_", None))) for m in models)


# ------------------------------------------------------------- signals


SLOW_SAVE = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    from mixfit import cli

    # Start from the default handlers, as under a terminal: a test run started
    # with nohup passes SIGHUP down ignored, and the CLI rightly keeps it so.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    real_save = np.save

    def slow_save(*args, **kwargs):
        real_save(*args, **kwargs)
        print("saving", file=sys.stderr, flush=True)
        time.sleep(60)

    np.save = slow_save
    argv = ["fit", sys.argv[1], "-q", "--model", "kmeans", "--out", sys.argv[2]]
    code = cli.main(argv)
    restored = signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    print(f"exit {code}, default handler back: {restored}", file=sys.stderr, flush=True)
    sys.exit(cli.main(argv))
""")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs SIGHUP and SIGTERM")
def test_a_signal_during_save_leaves_no_temporary_file(files):
    # One process, two saves, so that one interpreter start covers both signals.
    before = snapshot(files)
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(files / "d.npy"), str(files / "m.mixfit")],
        stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for signum in (signal.SIGHUP, signal.SIGTERM):
            line = process.stderr.readline()
            assert line == "saving\n", "".join(lines) + line + process.stderr.read()
            assert any(f.endswith(".tmp") for f in os.listdir(files))  # caught mid-save
            process.send_signal(signum)
            if signum == signal.SIGHUP:
                lines = [process.stderr.readline(), process.stderr.readline()]
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert lines == ["mixfit fit: terminated by SIGHUP\n",
                     f"exit {128 + signal.SIGHUP}, default handler back: True\n"]
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err == "mixfit fit: terminated by SIGTERM\n"
    assert snapshot(files) == before
