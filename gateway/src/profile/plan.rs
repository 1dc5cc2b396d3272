//! Request coalescing: a device's values become as few reads as the model's limits allow.
//!
//! Values are sorted by (function code, address) and merged into one request while the gap to the previous
//! value is at most `max_gap` registers and the padded count stays within `max_registers`. Counts are padded
//! to even numbers for models that require it. The plan is computed once per device at start.

use super::Profile;

/// One Modbus read request covering several values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Function code.
    pub function: u8,
    /// First register.
    pub address: u16,
    /// Register count.
    pub count: u16,
    /// Indices into [`Profile::values`] answered by this request.
    pub values: Vec<usize>,
}

impl Profile {
    /// Coalesces the values into as few requests as the model's limits allow, bridging gaps up to `max_gap`.
    pub fn plan(&self) -> Vec<Request> {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by_key(|&i| (self.values[i].function, self.values[i].address));
        let mut requests: Vec<Request> = Vec::new();
        for i in order {
            let v = &self.values[i];
            let end = v.address + v.data_type.registers();
            if let Some(r) = requests.last_mut() {
                let r_end = r.address + r.count;
                let fits = r.function == v.function
                    && v.address >= r.address
                    && v.address.saturating_sub(r_end) <= self.max_gap
                    && self.padded(end.max(r_end) - r.address) <= self.max_registers;
                if fits {
                    r.count = end.max(r_end) - r.address;
                    r.values.push(i);
                    continue;
                }
            }
            requests.push(Request {
                function: v.function,
                address: v.address,
                count: end - v.address,
                values: vec![i],
            });
        }
        for r in &mut requests {
            r.count = self.padded(r.count);
        }
        requests
    }

    fn padded(&self, count: u16) -> u16 {
        if self.even_counts && count % 2 == 1 {
            count + 1
        } else {
            count
        }
    }
}

impl Profile {
    /// The smallest read that shows whether the device answers: the first planned value alone.
    pub fn probe_request(&self) -> Option<Request> {
        let plan = self.plan();
        let first = plan.first()?;
        let i = *first.values.iter().min_by_key(|&&i| self.values[i].address)?;
        let v = &self.values[i];
        Some(Request {
            function: v.function,
            address: v.address,
            count: self.padded(v.data_type.registers()),
            values: vec![i],
        })
    }
}
