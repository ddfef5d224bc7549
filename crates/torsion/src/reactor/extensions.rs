//! Typed extension slots: state that another layer (the default thread
//! pool, a connection pool, process reaping) keeps on a reactor, without
//! the reactor knowing its type.
//!
//! A slot is keyed by its type: `reactor.extension::<T>()` returns the one
//! `Rc<T>` of this reactor, made on first use. When the reactor finishes,
//! after the after-shutdown triggers, each extension's
//! [`reactor_finished`](Extension::reactor_finished) hook runs once, in the
//! order the extensions were made. The loop never looks at the slots, so an
//! extension costs nothing per turn.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::rc::Rc;

use crate::failure::catch_panic;
use crate::reactor::Reactor;
use crate::reactor::introspect::Snapshot;

/// State a layer keeps on a reactor, one value per type (see
/// [`Reactor::extension`]).
///
/// ```
/// use std::cell::Cell;
/// use torsion::Reactor;
/// use torsion::reactor::Extension;
///
/// #[derive(Default)]
/// struct RequestCount(Cell<u64>);
///
/// impl Extension for RequestCount {
///     fn reactor_finished(&self, _reactor: &Reactor) {
///         println!("served {} requests", self.0.get());
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let count = reactor.extension::<RequestCount>();
/// count.0.set(count.0.get() + 1);
/// assert_eq!(reactor.extension::<RequestCount>().0.get(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Extension: 'static {
    /// The reactor has finished: the after-shutdown triggers have run and
    /// nothing more will. Release what must not outlive the loop (fail the
    /// Deferreds still waiting, stop helpers). Runs once, on the reactor
    /// thread; a panic is logged and the other hooks still run.
    fn reactor_finished(&self, reactor: &Reactor) {
        let _ = reactor;
    }

    /// Adds this layer's figures to a [`Snapshot`] being taken (the
    /// default thread pool adds its counters). Runs on the reactor thread,
    /// only when somebody asks for a snapshot; a panic is logged and the
    /// snapshot goes without these figures.
    fn introspect(&self, reactor: &Reactor, snapshot: &mut Snapshot) {
        let _ = (reactor, snapshot);
    }
}

struct Slot {
    type_id: TypeId,
    value: Rc<dyn Any>,
    hook: Rc<dyn Extension>,
}

/// The extension slots of one reactor.
#[derive(Default)]
pub(crate) struct Extensions {
    slots: RefCell<Vec<Slot>>,
}

impl Extensions {
    // Inlined: the default thread pool looks itself up for every job.
    #[inline(always)]
    fn get_any<T: Extension>(&self) -> Option<Rc<dyn Any>> {
        let slots = self.slots.borrow();
        let slot = slots
            .iter()
            .find(|slot| slot.type_id == TypeId::of::<T>())?;
        Some(slot.value.clone())
    }

    fn get<T: Extension>(&self) -> Option<Rc<T>> {
        self.get_any::<T>()?.downcast::<T>().ok()
    }

    fn insert<T: Extension>(&self, value: Rc<T>) {
        self.slots.borrow_mut().push(Slot {
            type_id: TypeId::of::<T>(),
            value: value.clone(),
            hook: value,
        });
    }

    /// Runs every hook, each outside any borrow of the slots (a hook may
    /// ask for an extension).
    pub(crate) fn reactor_finished(&self, reactor: &Reactor) {
        let hooks: Vec<Rc<dyn Extension>> = self
            .slots
            .borrow()
            .iter()
            .map(|slot| slot.hook.clone())
            .collect();
        for hook in hooks {
            if let Err(failure) = catch_panic(|| hook.reactor_finished(reactor)) {
                tracing::error!(%failure, what = "extension hook", "panic in a reactor extension's finish hook");
            }
        }
    }
}

impl Extensions {
    /// Lets every extension add its figures, outside any borrow of the
    /// slots.
    pub(crate) fn introspect(&self, reactor: &Reactor, snapshot: &mut Snapshot) {
        let hooks: Vec<Rc<dyn Extension>> = self
            .slots
            .borrow()
            .iter()
            .map(|slot| slot.hook.clone())
            .collect();
        for hook in hooks {
            if let Err(failure) = catch_panic(|| hook.introspect(reactor, snapshot)) {
                tracing::error!(%failure, what = "extension introspection", "panic in a reactor extension's snapshot hook");
            }
        }
    }
}

impl Reactor {
    /// This reactor's extension of type `T`, made with `T::default()` on
    /// first use (see [`Extension`]).
    #[inline]
    pub fn extension<T: Extension + Default>(&self) -> Rc<T> {
        self.extension_or_insert_with(T::default)
    }

    /// This reactor's extension of type `T`, made with `make` on first use.
    /// `make` may use the reactor; if it made a `T` extension itself, that
    /// one is kept and `make`'s value dropped.
    #[inline(always)]
    pub fn extension_or_insert_with<T: Extension>(&self, make: impl FnOnce() -> T) -> Rc<T> {
        match self.inner.extensions.get::<T>() {
            Some(found) => found,
            None => self.insert_extension(make),
        }
    }

    /// The first use of an extension: made here, out of line.
    #[cold]
    fn insert_extension<T: Extension>(&self, make: impl FnOnce() -> T) -> Rc<T> {
        let extensions = &self.inner.extensions;
        let made = Rc::new(make());
        if let Some(found) = extensions.get::<T>() {
            return found;
        }
        extensions.insert(made.clone());
        made
    }

    /// Runs `f` with this reactor's extension of type `T`, made with
    /// `T::default()` on first use: for the lookups made for every job or
    /// request, which need the extension for a moment only.
    #[inline(always)]
    pub(crate) fn with_extension<T: Extension + Default, R>(&self, f: impl FnOnce(&T) -> R) -> R {
        if let Some(found) = self.inner.extensions.get_any::<T>()
            && let Some(found) = found.downcast_ref::<T>()
        {
            return f(found);
        }
        f(&self.insert_extension(T::default))
    }

    /// This reactor's extension of type `T`, if one was made.
    pub fn get_extension<T: Extension>(&self) -> Option<Rc<T>> {
        self.inner.extensions.get::<T>()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Default)]
    struct Counter(Cell<u32>);

    impl Extension for Counter {
        fn reactor_finished(&self, _reactor: &Reactor) {
            self.0.set(self.0.get() + 100);
        }
    }

    #[derive(Default)]
    struct Other;

    impl Extension for Other {}

    #[test]
    fn an_extension_is_made_once_per_type_and_shared() {
        let reactor = Reactor::new().unwrap();
        assert!(reactor.get_extension::<Counter>().is_none());
        reactor.extension::<Counter>().0.set(7);
        assert_eq!(reactor.extension::<Counter>().0.get(), 7);
        assert!(reactor.get_extension::<Other>().is_none());
        reactor.extension::<Other>();
        assert_eq!(reactor.get_extension::<Counter>().unwrap().0.get(), 7);
    }

    #[test]
    fn each_reactor_has_its_own_extensions() {
        let one = Reactor::new().unwrap();
        let two = Reactor::new().unwrap();
        one.extension::<Counter>().0.set(1);
        assert_eq!(two.extension::<Counter>().0.get(), 0);
    }

    #[test]
    fn the_finish_hook_runs_once_when_the_reactor_finishes() {
        let reactor = Reactor::new().unwrap();
        let counter = reactor.extension::<Counter>();
        let (r, c) = (reactor.clone(), counter.clone());
        reactor.call_when_running(move || {
            assert_eq!(c.0.get(), 0, "not before the reactor finishes");
            r.stop().unwrap();
        });
        reactor.run().unwrap();
        assert_eq!(counter.0.get(), 100);
    }

    #[test]
    fn a_panicking_finish_hook_does_not_keep_the_others_from_running() {
        #[derive(Default)]
        struct Panics;
        impl Extension for Panics {
            fn reactor_finished(&self, _reactor: &Reactor) {
                panic!("hook failed");
            }
        }
        let reactor = Reactor::new().unwrap();
        reactor.extension::<Panics>();
        let counter = reactor.extension::<Counter>();
        let r = reactor.clone();
        reactor.call_when_running(move || r.stop().unwrap());
        reactor.run().unwrap();
        assert_eq!(counter.0.get(), 100);
    }
}
