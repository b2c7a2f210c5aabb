//! The dummy class: creates dummy devices on open and keeps a directory of
//! them so tests can reach the control side.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use netdev_core::{DeviceBackend, DeviceInfo, DeviceState, NetdevClass, Result, Stats};
use parking_lot::Mutex;

use crate::device::{DummyBackend, DummyDev, DummyDevice};

/// A netdev class whose devices live in memory.
///
/// Opening any valid name creates a device (down, carrier on, MTU 1500, a
/// unique locally administered MAC, a unique synthetic ifindex); the last
/// handle closing destroys it, as Open vSwitch's dummy devices do.
#[derive(Debug)]
pub struct DummyClass {
    type_name: String,
    devices: Mutex<HashMap<String, Weak<DummyDev>>>,
}

impl DummyClass {
    /// A class registered as `dummy`.
    pub fn new() -> Arc<DummyClass> {
        DummyClass::with_type("dummy")
    }

    /// A dummy class under another type name (for example `system`, so a
    /// whole program runs against dummies; see [`crate::override_system`]).
    pub fn with_type(type_name: &str) -> Arc<DummyClass> {
        Arc::new(DummyClass {
            type_name: type_name.into(),
            devices: Mutex::new(HashMap::new()),
        })
    }

    /// The control handle of the open device `name`, if it exists.
    pub fn device(&self, name: &str) -> Option<DummyDevice> {
        let dev = self.devices.lock().get(name)?.upgrade();
        dev.map(DummyDevice)
    }

    /// The names of the devices that exist now, sorted.
    pub fn device_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .devices
            .lock()
            .iter()
            .filter(|(_, d)| d.strong_count() > 0)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    fn live(&self) -> Vec<Arc<DummyDev>> {
        self.devices
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

impl NetdevClass for DummyClass {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
        let dev = DummyDev::new(name, state);
        let mut devices = self.devices.lock();
        devices.retain(|_, d| d.strong_count() > 0);
        devices.insert(name.into(), Arc::downgrade(&dev));
        Ok(Box::new(DummyBackend(dev)))
    }

    fn enumerate(&self) -> Result<Vec<DeviceInfo>> {
        Ok(self.live().iter().map(|d| d.info()).collect())
    }

    fn all_stats(&self, visit: &mut dyn FnMut(u32, &Stats)) -> Result<()> {
        for dev in self.live() {
            visit(dev.ifindex(), &dev.stats());
        }
        Ok(())
    }
}
