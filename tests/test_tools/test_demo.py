# Copyright (c) OpenMMLab. All rights reserved.
"""tools/demo.py in a real browser: headless Chromium through selenium."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from .conftest import QUICKSTART_CONFIG, REPO, free_port

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
PROMPT = 'red circle'
THRESHOLD = 0.45  # not the config's 0.5: the page's slider must count
STARTUP_S = 90
MAX_UPLOAD_MB = 1


def start_demo(checkpoint, toy_root, port):
    """The demo as a user starts it; returns the process and its log
    lines once it listens."""
    env = dict(
        os.environ,
        HF_HUB_OFFLINE='1',
        PYTHONUNBUFFERED='1',
        PYTHONPATH=os.pathsep.join(
            p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.Popen([
        sys.executable, 'tools/demo.py', QUICKSTART_CONFIG,
        str(checkpoint), '--port',
        str(port), '--num-examples', '2', '--max-file-size',
        str(MAX_UPLOAD_MB), '--cfg-options',
        f'test_dataloader.dataset.data_root={toy_root}'
    ],
                            cwd=REPO,
                            env=env,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            encoding='utf-8',
                            errors='replace')
    lines, deadline = [], time.monotonic() + STARTUP_S
    for line in proc.stdout:
        lines.append(line)
        if 'ready in' in line:
            return proc, lines
        if time.monotonic() > deadline:
            break
    proc.kill()
    pytest.fail('tools/demo.py did not start:\n' + ''.join(lines[-40:]))


def browser():
    """Headless Chromium (Debian's chromium and chromium-driver, which
    .ci/run installs)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not osp.isfile(path):
            pytest.fail(f'{path} is missing: apt-get install -y chromium '
                        'chromium-driver (as .ci/run does)')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', '--window-size=1400,1000'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver, css, timeout=30, text=None):
    """The first element matching ``css`` (whose text has ``text``)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d):
        for element in d.find_elements('css selector', css):
            try:
                if text is None or text in element.text:
                    return element
            except WebDriverException:  # re-rendered meanwhile
                pass
        return False

    try:
        return WebDriverWait(driver, timeout).until(found)
    except Exception:
        status = driver.find_elements('css selector', '#status')
        pytest.fail(f'no {css}' + (f' with {text!r}' if text else '') +
                    ' on the page; status: ' +
                    (status[0].text if status else 'none'))


def upload_and_run(driver, url, image, prompt=None, run=True):
    driver.get(url)
    wait_for(driver, '#upload input[type=file]').send_keys(str(image))
    wait_for(driver, f'#upload td.filename[aria-label="{image.name}"]')
    if prompt is not None:
        wait_for(driver, '#prompt textarea').send_keys(prompt)
    if run:
        wait_for(driver, '#run').click()


def post_upload(url, size):
    """POST ``size`` bytes as a file, as the page's upload does."""
    boundary = 'mmvlsm-test-boundary'
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            'filename="big.png"\r\nContent-Type: image/png\r\n\r\n').encode()
    body += bytes(size) + f'\r\n--{boundary}--\r\n'.encode()
    return urllib.request.urlopen(
        urllib.request.Request(
            f'{url}gradio_api/upload',
            data=body,
            headers={
                'Content-Type': f'multipart/form-data; boundary={boundary}'
            }))


def api_mask(checkpoint, image):
    from mmvlsm.apis import inference_model, init_model
    model = init_model(QUICKSTART_CONFIG, str(checkpoint))
    model.test_cfg['threshold'] = THRESHOLD
    sample = inference_model(model, str(image), PROMPT)
    return sample.pred_sem_seg.data[0].numpy().astype(np.uint8) * 255


def test_demo_in_a_browser(untrained_checkpoint, toy_root, tmp_path):
    from selenium.webdriver.common.keys import Keys
    image = tmp_path / 'scan.png'
    shutil.copy(next((toy_root / 'images').glob('*.png')), image)
    broken = tmp_path / 'broken.png'
    broken.write_text('this is text, not a PNG')
    port = free_port()
    url = f'http://127.0.0.1:{port}/'
    proc, log = start_demo(untrained_checkpoint, toy_root, port)
    workdir = re.search(r'uploads and masks in (\S+)', ''.join(log)).group(1)
    driver = None
    try:
        # Nothing of the server's disk is served but its own uploads.
        for path in (osp.join(REPO, 'README.md'), str(image)):
            with pytest.raises(urllib.error.HTTPError, match='403'):
                urllib.request.urlopen(f'{url}gradio_api/file={path}')
        with pytest.raises(urllib.error.HTTPError, match='413'):
            post_upload(url, int(1.5 * MAX_UPLOAD_MB * 2**20))
        post_upload(url, 1000)  # below the limit
        driver = browser()
        upload_and_run(driver, url, image)  # no prompt yet
        wait_for(driver, '#status', text='Type a prompt')

        wait_for(driver, '#examples', text='Examples')
        upload_and_run(driver, url, image, PROMPT, run=False)
        number = wait_for(driver, '#threshold input[type=number]')
        number.send_keys(Keys.CONTROL, 'a')
        number.send_keys(str(THRESHOLD), Keys.TAB)
        wait_for(driver, '#show-heat input').click()
        wait_for(driver, '#run').click()
        link = wait_for(driver, '#mask-file a.download-link', timeout=60)
        wait_for(driver, '#legend', text=PROMPT)
        wait_for(driver, '#heat img')
        screenshot = tmp_path / 'demo.png'
        driver.save_screenshot(str(screenshot))
        print(f'screenshot of the demo: {screenshot}')
        data = urllib.request.urlopen(link.get_attribute('href')).read()
        served = cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(served)) == {0, 255}  # a mask worth comparing
        np.testing.assert_array_equal(served,
                                      api_mask(untrained_checkpoint, image))

        upload_and_run(driver, url, broken, PROMPT)
        wait_for(driver, '#status', text='Could not use broken.png')
        assert 'Traceback' not in driver.page_source
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, rest[-3000:]
    assert not osp.exists(workdir), 'the upload folder outlived the server'
