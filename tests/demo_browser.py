"""Driving zoo-demo as a person does, for tests/test_demo.py and docs/make_pictures.py: a zoo-demo
process on a free loopback port, Debian's headless Chromium through Selenium, an upload.

Selenium is given the browser and its driver by path, so Selenium Manager (which would fetch a
browser) never runs; the browser's own background traffic is switched off.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

__all__ = ["CHROMEDRIVER", "CHROMIUM", "chromium", "have_chromium", "start_demo", "stop_demo", "upload"]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def have_chromium():
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command():
    script = os.path.join(os.path.dirname(sys.executable), "zoo-demo")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "zoo.demo.cli"]


def start_demo(arguments, log_path, timeout=180):
    """(process, URL) of ``zoo-demo ARGUMENTS`` on a free loopback port once its page answers;
    its stderr goes to ``log_path``. RuntimeError with the log's tail if it does not start."""
    url = None
    with open(log_path, "w") as stderr:
        port = _free_port()
        process = subprocess.Popen(_command() + ["--port", str(port), *arguments], cwd=REPO, stdout=subprocess.DEVNULL,
                                   stderr=stderr, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout  # a first start in a fresh cache converts the model to ONNX
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return process, url
        except (urllib.error.URLError, ConnectionError):
            pass
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            with open(log_path) as log:
                raise RuntimeError(f"zoo-demo did not start: {log.read()[-2000:]}")
        time.sleep(0.2)


def stop_demo(process):
    """Ctrl-C, as a person stops it; its exit status."""
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def chromium(user_data_dir, width=1200, height=1600):
    """A headless Chromium WebDriver (Debian's browser and driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
                 f"--window-size={width},{height}", f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def upload(driver, path, timeout=120):
    """Choose ``path`` in the page's file input and press Tag; returns once the answer (the tags
    or an error) is shown."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.zooAsked = true")  # the answer is a new document, without this mark
    driver.find_element(By.ID, "audio").send_keys(str(path))
    driver.find_element(By.ID, "submit").click()
    # mid-navigation the driver can answer any query with an error, not only a stale element
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))
    wait.until(lambda d: d.execute_script("return !document.zooAsked && document.readyState === 'complete'"))
    wait.until(lambda d: d.find_elements(By.ID, "result") or d.find_elements(By.ID, "error"))
