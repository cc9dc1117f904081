import threading
import time

from web.login_guard import LoginGuard


def test_failures_past_the_per_name_limit_must_wait_and_success_clears_them() -> None:
    guard = LoginGuard("3/minute", "100/minute")
    for _ in range(3):
        assert guard.wait_s("ana", "10.0.0.1") is None
        guard.failed("ana", "10.0.0.1", "wrong password")
    wait_s = guard.wait_s("ana", "10.0.0.2")  # another address: still the name
    assert wait_s is not None
    assert 1 <= wait_s <= 60
    assert guard.wait_s("bob", "10.0.0.1") is None
    guard.succeeded("ana")
    assert guard.wait_s("ana", "10.0.0.1") is None


def test_failures_past_the_per_address_limit_stop_every_name_from_it() -> None:
    guard = LoginGuard("100/minute", "2/minute")
    guard.failed("a", "10.0.0.9", "unknown")
    guard.failed("b", "10.0.0.9", "unknown")
    assert guard.wait_s("c", "10.0.0.9") is not None
    assert guard.wait_s("c", "10.0.0.8") is None


def test_the_long_window_backs_off_once_the_short_ones_are_used_up() -> None:
    guard = LoginGuard("2/second;3/hour", "100/minute")
    for _ in range(2):
        guard.failed("ana", "h", "wrong password")
    time.sleep(1.1)  # the short window has passed...
    guard.failed("ana", "h", "wrong password")
    wait_s = guard.wait_s("ana", "h")  # ...but the hour's three are spent
    assert wait_s is not None
    assert wait_s > 60


def test_no_more_password_checks_run_at_once_than_the_slots() -> None:
    guard = LoginGuard("5/minute", "5/minute", checks_at_once=2)
    running = 0
    most = 0
    lock = threading.Lock()

    def check() -> None:
        nonlocal running, most
        with guard.password_check():
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
