//! Group commit: writers share flushes to disk.
//!
//! A writer finishes its sled transaction, then takes a ticket (`written += 1`) and waits
//! until a flush that started after its ticket has completed. One flusher thread loops: it
//! waits for tickets beyond what is flushed, notes the highest ticket, calls `Db::flush` and
//! publishes that ticket as flushed. Every writer whose ticket was taken before the flush
//! started is covered by it, so N writers arriving during one flush share the next one.
//!
//! A failed flush is sticky: the disk is suspect, so every later write reports `Flush`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::flush_latency::FlushLatencyRecorder;
use crate::model::StoreStats;

/// Tickets taken and whether to stop, under one mutex.
struct Tickets {
    written: u64,
    shutdown: bool,
}

/// What the flusher has made durable.
#[derive(Clone, Debug, Default)]
struct Progress {
    flushed: u64,
    error: Option<String>,
}

struct Shared {
    tickets: Mutex<Tickets>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
    writes: AtomicU64,
    flushes: AtomicU64,
    latency: FlushLatencyRecorder,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Tickets> {
        // A panic while holding this lock leaves two integers consistent: keep going.
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The flusher thread and the writers' side of it.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts the flusher thread for this database.
    /// Starts the flusher for `db`, whose log file is `log` (sled's `<path>/db`).
    pub(crate) fn start(db: ::sled::Db, log: &std::path::Path) -> Result<GroupCommit> {
        // sled confirms a flush with sync_file_range, which does not flush the drive's
        // write cache: an fdatasync of the log after each group flush does. One per group,
        // so concurrent writers share its cost too.
        let log = std::fs::File::open(log).map_err(|e| {
            StoreError::Task(format!(
                "cannot open the store log {} to sync it: {e}",
                log.display()
            ))
        })?;
        let (progress, _) = watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            tickets: Mutex::new(Tickets {
                written: 0,
                shutdown: false,
            }),
            wake: Condvar::new(),
            progress,
            writes: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            latency: FlushLatencyRecorder::default(),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("certmail-store-flush".into())
            .spawn(move || flusher(&for_thread, &db, &log))
            .map_err(|e| StoreError::Task(format!("cannot start the flush thread: {e}")))?;
        Ok(GroupCommit {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Waits until everything written before this call is on disk.
    pub(crate) async fn durable(&self) -> Result<()> {
        let mut progress = self.shared.progress.subscribe();
        let ticket = {
            let mut t = self.shared.lock();
            t.written += 1;
            t.written
        };
        self.shared.wake.notify_one();
        let outcome = progress
            .wait_for(|p| p.flushed >= ticket || p.error.is_some())
            .await
            .map_err(|_| StoreError::Task("the flush thread has stopped".into()))?
            .clone();
        if outcome.flushed >= ticket {
            self.shared.writes.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        Err(StoreError::Flush(outcome.error.unwrap_or_default()))
    }

    /// Flush counters.
    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            writes: self.shared.writes.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
            flush_latency: self.shared.latency.snapshot(),
        }
    }

    /// Flushes what is pending, stops the thread and waits for it.
    pub(crate) fn shutdown(&self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the store flush thread panicked");
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The flusher loop; returns on shutdown or after a failed flush.
fn flusher(shared: &Shared, db: &::sled::Db, log: &std::fs::File) {
    let mut flushed = 0u64;
    loop {
        let target = {
            let mut t = shared.lock();
            while t.written == flushed && !t.shutdown {
                t = shared.wake.wait(t).unwrap_or_else(|e| e.into_inner());
            }
            if t.written == flushed {
                return; // shutdown with nothing pending
            }
            t.written
        };
        let started = std::time::Instant::now();
        let flushed_to_disk = db.flush().map_err(|e| e.to_string()).and_then(|_| {
            log.sync_data()
                .map_err(|e| format!("fdatasync of the store log: {e}"))
        });
        match flushed_to_disk {
            Ok(()) => {
                flushed = target;
                shared.latency.record(started.elapsed());
                shared.flushes.fetch_add(1, Ordering::Relaxed);
                shared.progress.send_modify(|p| p.flushed = target);
            }
            Err(e) => {
                tracing::error!(error = %e, "store flush failed; refusing further writes");
                shared
                    .progress
                    .send_modify(|p| p.error = Some(e.to_string()));
                return;
            }
        }
    }
}
