//! Understanding Stripe events: a short summary of the object an event is about, and the
//! delivery-order check (Stripe does not guarantee that events arrive in the order they were
//! created, and may deliver one event more than once).

use serde_json::{Map, Value};

/// The object of a Stripe event, in a few words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectSummary {
    /// `data.object.object`: `invoice`, `checkout.session`, `payment_intent`, ….
    pub object_type: Option<String>,
    /// `data.object.id`.
    pub id: Option<String>,
    /// The amount that matters for this object, formatted with its currency (`20.00 USD`).
    pub amount: Option<String>,
    /// `data.object.customer` (an id; expanded customer objects give their id).
    pub customer: Option<String>,
    /// `data.object.status`.
    pub status: Option<String>,
}

impl ObjectSummary {
    /// True when nothing could be read.
    pub fn is_empty(&self) -> bool {
        *self == ObjectSummary::default()
    }
}

/// Reads `data.object` of a Stripe event body. `None` when the body is not a JSON object with
/// a `data.object` object (v2 thin events, non-Stripe bodies).
pub fn object_summary(body: &[u8]) -> Option<ObjectSummary> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.get("data")?.get("object")?.as_object()?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let object_type = text("object");
    let customer = match obj.get("customer") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(c)) => c.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let summary = ObjectSummary {
        amount: amount(obj, object_type.as_deref()),
        object_type,
        id: text("id"),
        customer,
        status: text("status"),
    };
    (!summary.is_empty()).then_some(summary)
}

/// The amount field that describes the object best, with its currency.
fn amount(obj: &Map<String, Value>, object_type: Option<&str>) -> Option<String> {
    let currency = obj.get("currency").and_then(Value::as_str);
    let fields: &[&str] = match object_type {
        Some("invoice") => &["amount_due", "total", "amount_paid"],
        Some("checkout.session") => &["amount_total", "amount_subtotal"],
        Some("subscription") => return subscription_amount(obj),
        _ => &["amount", "amount_total", "amount_due", "total"],
    };
    let minor = fields
        .iter()
        .find_map(|f| obj.get(*f).and_then(Value::as_i64))?;
    Some(format_amount(minor, currency?))
}

/// A subscription's recurring amount: the sum of its items' unit amount × quantity, or the
/// legacy `plan.amount × quantity`.
fn subscription_amount(obj: &Map<String, Value>) -> Option<String> {
    let quantity = |o: &Value| o.get("quantity").and_then(Value::as_i64).unwrap_or(1);
    let items = obj
        .get("items")
        .and_then(|i| i.get("data"))
        .and_then(Value::as_array);
    let mut currency = None;
    let mut total: i64 = 0;
    for item in items.into_iter().flatten() {
        let Some(price) = item.get("price").or_else(|| item.get("plan")) else {
            continue;
        };
        let unit = price
            .get("unit_amount")
            .or_else(|| price.get("amount"))
            .and_then(Value::as_i64)?;
        total = total.checked_add(unit.checked_mul(quantity(item))?)?;
        currency = currency.or_else(|| price.get("currency").and_then(Value::as_str));
    }
    if currency.is_none() {
        let plan = obj.get("plan")?;
        total = plan
            .get("amount")
            .and_then(Value::as_i64)?
            .checked_mul(obj.get("quantity").and_then(Value::as_i64).unwrap_or(1))?;
        currency = plan.get("currency").and_then(Value::as_str);
    }
    Some(format_amount(total, currency?))
}

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Currencies Stripe counts in thousandths.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// `2000, "usd"` → `20.00 USD`; `500, "jpy"` → `500 JPY`; `-150, "eur"` → `-1.50 EUR`.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let lower = currency.to_ascii_lowercase();
    let decimals: u32 = if ZERO_DECIMAL.contains(&lower.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&lower.as_str()) {
        3
    } else {
        2
    };
    let code = currency.to_ascii_uppercase();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{abs} {code}");
    }
    let unit = 10u64.pow(decimals);
    format!(
        "{sign}{}.{:0width$} {code}",
        abs / unit,
        abs % unit,
        width = decimals as usize
    )
}

/// For events listed in arrival order with their `created` time, which ones arrived after an
/// event that was created later (out of order). For each event: `Some(i)` where `i` is the
/// index of the earlier-arriving event with the latest `created` (the one it was overtaken by),
/// or `None` when it arrived in order. Events without a `created` are never flagged and never
/// overtake.
pub fn out_of_order(created_in_arrival_order: &[Option<i64>]) -> Vec<Option<usize>> {
    let mut latest: Option<(i64, usize)> = None;
    created_in_arrival_order
        .iter()
        .enumerate()
        .map(|(i, created)| {
            let c = (*created)?;
            let flag = latest.filter(|(l, _)| *l > c).map(|(_, j)| j);
            if latest.is_none_or(|(l, _)| c > l) {
                latest = Some((c, i));
            }
            flag
        })
        .collect()
}

/// [`out_of_order`] within each object: an event is flagged only when it arrived after an
/// event about the same object (`objects[i]`, e.g. `sub_123`) that was created later. Events
/// about different objects are never compared, and events without an object id are never
/// flagged and never overtake. Indices refer to the whole list.
pub fn out_of_order_per_object(
    created_in_arrival_order: &[Option<i64>],
    objects: &[Option<&str>],
) -> Vec<Option<usize>> {
    let mut flags = vec![None; created_in_arrival_order.len()];
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, object) in objects.iter().enumerate().take(flags.len()) {
        if let Some(o) = object {
            groups.entry(o).or_default().push(i);
        }
    }
    for members in groups.values() {
        let created: Vec<Option<i64>> = members
            .iter()
            .map(|&i| created_in_arrival_order[i])
            .collect();
        for (k, flag) in out_of_order(&created).into_iter().enumerate() {
            flags[members[k]] = flag.map(|j| members[j]);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_about_the_same_object_are_compared() {
        // Arrival order: sub_A@30, sub_B@10, sub_A@20, (no object)@5, sub_B@40, sub_B@15.
        let flags = out_of_order_per_object(
            &[Some(30), Some(10), Some(20), Some(5), Some(40), Some(15)],
            &[
                Some("sub_A"),
                Some("sub_B"),
                Some("sub_A"),
                None,
                Some("sub_B"),
                Some("sub_B"),
            ],
        );
        assert_eq!(flags, vec![None, None, Some(0), None, None, Some(4)]);
    }

    #[test]
    fn bodies_without_a_data_object_have_no_summary() {
        assert_eq!(object_summary(b"not json"), None);
        assert_eq!(object_summary(b"{\"data\":{}}"), None);
        assert_eq!(object_summary(b"{\"data\":{\"object\":{}}}"), None);
        assert_eq!(object_summary(&[0xff, 0x00]), None);
    }

    #[test]
    fn expanded_customer_objects_give_their_id() {
        let body = br#"{"data":{"object":{"object":"charge","customer":{"id":"cus_X"}}}}"#;
        assert_eq!(
            object_summary(body).and_then(|s| s.customer).as_deref(),
            Some("cus_X")
        );
    }

    #[test]
    fn amounts_respect_zero_and_three_decimal_currencies() {
        assert_eq!(format_amount(2000, "usd"), "20.00 USD");
        assert_eq!(format_amount(5, "eur"), "0.05 EUR");
        assert_eq!(format_amount(-150, "eur"), "-1.50 EUR");
        assert_eq!(format_amount(500, "jpy"), "500 JPY");
        assert_eq!(format_amount(1234, "kwd"), "1.234 KWD");
        assert_eq!(format_amount(i64::MIN, "usd"), "-92233720368547758.08 USD");
    }

    #[test]
    fn an_event_created_before_one_that_arrived_earlier_is_out_of_order() {
        // Arrival order: created 10, 30, 20, 40, 25, (none), 30.
        let flags = out_of_order(&[
            Some(10),
            Some(30),
            Some(20),
            Some(40),
            Some(25),
            None,
            Some(30),
        ]);
        assert_eq!(
            flags,
            vec![None, None, Some(1), None, Some(3), None, Some(3)]
        );
    }

    #[test]
    fn events_with_equal_created_times_are_in_order() {
        assert_eq!(out_of_order(&[Some(5), Some(5), Some(6)]), vec![None; 3]);
        assert!(out_of_order(&[]).is_empty());
    }
}
