"""Fixtures running the commands as processes over a real RabbitMQ."""

import configparser
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import fixtures
import requests
from testtools import content

from trove_backup_ext.tests import base
from trove_backup_ext.tests import execution_fixtures as ef
from trove_backup_ext.tests import service_fixtures

# The console scripts of the environment running the tests.
BIN_DIR = os.path.dirname(os.path.abspath(sys.executable))
START_TIMEOUT = 60
STOP_TIMEOUT = 15
LOG_TAIL_LINES = 200


def command(name):
    path = os.path.join(BIN_DIR, name)
    return path if os.path.exists(path) else shutil.which(name) or name


def run(argv, timeout=START_TIMEOUT, **kwargs):
    """Run argv to its end; its stdout, or an error with its output."""
    result = subprocess.run(argv, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=timeout,
                            **kwargs)
    if result.returncode:
        raise RuntimeError('%s exited %d:\n%s%s' % (
            ' '.join(argv), result.returncode, result.stdout[-3000:],
            result.stderr[-3000:]))
    return result.stdout


def kill_group(process):
    """SIGKILL what is left of process's group; reap process."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass


class Process(fixtures.Fixture):
    """One command in its own process group, stdout and stderr in a log
    file whose tail becomes a detail of the test (shown on failure).
    Ready once ready_pattern appears in its log (if given). Stopped with
    SIGTERM, then SIGKILL for it and anything it left running."""

    def __init__(self, name, argv, workdir, ready_pattern=None):
        super().__init__()
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.ready_pattern = ready_pattern
        self.process = None

    def _setUp(self):
        self.log_path = os.path.join(self.workdir, '%s-%s.log' % (
            self.name, uuid.uuid4().hex[:6]))
        self._snapshot = None
        self.addDetail('%s-log' % self.name, content.Content(
            content.UTF8_TEXT, lambda: [self.log_tail().encode()]))
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.addCleanup(self.stop)

    def wait_ready(self):
        if self.ready_pattern:
            self.wait_log(self.ready_pattern)
        return self

    @property
    def running(self):
        return self.process.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as log:
                return log.read()
        except OSError:
            return ''

    def log_tail(self):
        if self._snapshot is not None:
            return self._snapshot
        lines = self.log_text().splitlines()[-LOG_TAIL_LINES:]
        return '$ %s\n%s\n' % (' '.join(self.argv), '\n'.join(lines))

    def wait_log(self, pattern, timeout=START_TIMEOUT):
        """Wait for pattern (a regex) in the log; its match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log_text())
            if match:
                return match
            if not self.running:
                raise RuntimeError('%s exited %s before logging %r:\n%s' % (
                    self.name, self.process.returncode, pattern,
                    self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError('%s did not log %r within %d s:\n%s' % (
                    self.name, pattern, timeout, self.log_tail()))
            time.sleep(0.1)

    def terminate(self):
        """SIGTERM without waiting (several processes stop at once)."""
        if self.process is not None and self.running:
            self.process.terminate()

    def kill(self):
        """SIGKILL the process alone, as a crash would."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self):
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # The group too: backup tools a killed agent had started.
        kill_group(self.process)
        if self._snapshot is None:
            self._snapshot = self.log_tail()


def write_config(path, sections):
    """An ini file of {group: {option: value}}, readable by root only
    (it may hold passwords)."""
    parser = configparser.RawConfigParser()
    for group, options in sections.items():
        if group != 'DEFAULT':
            parser.add_section(group)
        for name, value in options.items():
            parser.set(group, name, str(value))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as out:
        parser.write(out)
    return path


def write_private(path, text):
    """A file readable by root only (a key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as out:
        out.write(text)
    return path


def merged(*layers):
    result = {}
    for layer in layers:
        for group, options in (layer or {}).items():
            result.setdefault(group, {}).update(options)
    return result


class Deployment:
    """The configuration files of one test and the services started from
    them, each a fixture of the test (so logs show when it fails).

    control.conf serves the API, the worker and trove-backup-manage;
    agent.conf is the same without [database]: an agent holds no
    control-plane database credentials.
    """

    def __init__(self, test, transport_url, database_url, sections=None,
                 agent_sections=None):
        self.test = test
        self.dir = test.useFixture(fixtures.TempDir()).path
        self.api_port = service_fixtures.free_port()
        self.sections = merged({
            'DEFAULT': {'transport_url': transport_url,
                        'storage_strategy': 'local',
                        'instance_source': 'registry', 'debug': 'true'},
            'api': {'auth_strategy': 'noauth', 'host': '127.0.0.1',
                    'port': self.api_port},
            'local_storage': {'storage_dir': os.path.join(self.dir,
                                                          'store')},
            'oslo_messaging_rabbit': {'rabbit_interval_max': 2},
        }, sections)
        self.storage_dir = self.sections['local_storage']['storage_dir']
        # The workers' master key of agent keys, and where
        # trove-backup-manage instance add writes each agent's key file.
        self.agent_key_dir = os.path.join(self.dir, 'agent-keys')
        master = write_private(os.path.join(self.dir, 'agent-master.key'),
                               uuid.uuid4().hex + uuid.uuid4().hex)
        self.control_conf = write_config(
            os.path.join(self.dir, 'control.conf'), merged(
                self.sections, {'database': {'connection': database_url},
                                'worker': {
                                    'agent_keys_master_key_file': master,
                                    'agent_key_dir': self.agent_key_dir}}))
        self.agent_conf = write_config(os.path.join(self.dir, 'agent.conf'),
                                       merged(self.sections, agent_sections))
        self.client = BackupsClient('http://127.0.0.1:%d' % self.api_port)
        self.processes = []

    def _config_args(self, base, extra, label):
        args = ['--config-file', base]
        if extra:
            args += ['--config-file', write_config(os.path.join(
                self.dir, '%s-%s.conf' % (label, uuid.uuid4().hex[:6])),
                extra)]
        return args

    def manage(self, *args):
        return run([command('trove-backup-manage'), '--config-file',
                    self.control_conf] + list(args)).strip()

    def add_instance(self, datastore, version, instance_id=None,
                     project=None, name='db'):
        return self.manage('instance', 'add', '--name', name,
                           '--id', instance_id or str(uuid.uuid4()),
                           '--project-id', project or self.client.project,
                           '--datastore', datastore,
                           '--datastore-version', version)

    def _start(self, name, argv, ready_pattern):
        process = self.test.useFixture(Process(name, argv, self.dir,
                                               ready_pattern))
        self.processes.append(process)
        setattr(self, name, process)    # The latest of each: self.worker.
        # Runs before the processes' own cleanups: they all get SIGTERM
        # at once, and the slow graceful stops overlap.
        self.test.addCleanup(self._terminate_all)
        return process

    def _terminate_all(self):
        for process in self.processes:
            process.terminate()

    def _started(self, process, wait):
        return process.wait_ready() if wait else process

    def start_api(self, wait=True):
        return self._started(self._start(
            'api', [command('trove-backup-api'), '--config-file',
                    self.control_conf], 'trove-backup-api listening'), wait)

    def start_worker(self, extra=None, wait=True):
        return self._started(self._start(
            'worker', [command('trove-backup-worker')] +
            self._config_args(self.control_conf, extra, 'worker'),
            'trove-backup-worker serving topic'), wait)

    def agent_key_file(self, instance_id):
        return os.path.join(self.agent_key_dir, instance_id + '.key')

    def start_agent(self, instance_id, extra=None, wait=True):
        # Its own key file, as instance add writes it (maybe after the
        # agent starts: it reads the file at each report).
        extra = merged({'agent': {'key_file': self.agent_key_file(
            instance_id)}}, extra)
        return self._started(self._start(
            'agent', [command('trove-backup-agent')] +
            self._config_args(self.agent_conf, extra, 'agent') +
            ['--instance-id', instance_id],
            'trove-backup-agent of instance'), wait)

    def start_all(self, datastore, version, agent_extra=None):
        """Worker, agent and API started at once, the agent's instance
        registered meanwhile; the instance id once all are ready."""
        instance_id = str(uuid.uuid4())
        started = [self.start_worker(wait=False),
                   self.start_agent(instance_id, agent_extra, wait=False),
                   self.start_api(wait=False)]
        self.add_instance(datastore, version, instance_id)
        for process in started:
            process.wait_ready()
        return instance_id

    def restore(self, backup_id, target, checksum, extra=None):
        """trove-backup-agent restore; the directory it restored into."""
        return run([command('trove-backup-agent')] +
                   self._config_args(self.agent_conf, extra, 'restore') +
                   ['restore', backup_id, '--target', target,
                    '--checksum', checksum], timeout=120)

    def objects_of(self, backup_id, partial=True):
        """Files in local storage that belong to backup_id; with partial
        False, not the local driver's half-written .partial-* files."""
        return [path for path in ef.storage_files(self.storage_dir)
                if '/%s/' % backup_id in path and (
                    partial or not os.path.basename(path).startswith(
                        '.partial-'))]

    def wait_no_objects(self, backup_id, partial=True, timeout=30):
        try:
            ef.wait_for(lambda: not self.objects_of(backup_id, partial),
                        timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError('Objects of backup %s left after %d s: %s'
                                 % (backup_id, timeout,
                                    self.objects_of(backup_id)[:10]))

    def wait_deleted(self, backup_ids, timeout=120):
        """Wait until every backup's row is gone, checking on the way
        that no row is ever gone while objects of it are left."""
        def all_gone():
            gone = 0
            for backup_id in backup_ids:
                if self.client.show(backup_id).status_code == 404:
                    left = self.objects_of(backup_id)
                    if left:
                        raise AssertionError('Row of backup %s is gone, '
                                             'objects are left: %s'
                                             % (backup_id, left[:5]))
                    gone += 1
            return gone == len(backup_ids)
        ef.wait_for(all_gone, timeout=timeout, interval=0.2)


class BackupsClient:
    """The backups API of one project, over HTTP, in noauth mode."""

    def __init__(self, endpoint, project=base.PROJECT):
        self.project = project
        self.url = '%s/v1.0/%s/backups' % (endpoint, project)
        self.http = requests.Session()

    def create(self, instance_id, expect=202, **fields):
        body = {'backup': dict({'name': 'b', 'instance': instance_id},
                               **fields)}
        response = self.http.post(self.url, json=body, timeout=30)
        if response.status_code != expect:
            raise AssertionError('POST gave %d, not %d: %s' % (
                response.status_code, expect, response.text))
        return response.json().get('backup')

    def show(self, backup_id):
        return self.http.get('%s/%s' % (self.url, backup_id), timeout=30)

    def list(self):
        response = self.http.get(self.url, timeout=30)
        response.raise_for_status()
        return response.json()['backups']

    def delete(self, backup_id):
        response = self.http.delete('%s/%s' % (self.url, backup_id),
                                    timeout=30)
        if response.status_code != 202:
            raise AssertionError('DELETE gave %d: %s' % (
                response.status_code, response.text))

    def wait_status(self, backup_id, *wanted, timeout=120):
        """The backup once its status is one of wanted."""
        seen = []

        def check():
            backup = self.show(backup_id).json()['backup']
            seen[:] = [backup]
            return backup if backup['status'] in wanted else None
        try:
            return ef.wait_for(check, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError('Backup %s not %s within %d s; last seen: '
                                 '%s' % (backup_id, '/'.join(wanted),
                                         timeout, seen))
