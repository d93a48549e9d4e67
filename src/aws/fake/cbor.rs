//! Smithy RPC v2 CBOR ⇄ AWS JSON 1.0, the translation between what the SDK sends and what
//! moto understands.
//!
//! CBOR carries types JSON cannot: timestamps are tag 1 around epoch seconds, blobs are byte
//! strings, and doubles and integers are distinct. The request direction (CBOR → JSON) needs
//! no model: tag 1 becomes epoch seconds and bytes become base64, which is exactly how JSON 1.0
//! writes them. The response direction (JSON → CBOR) does: `80` may be a double
//! (`Threshold`) or an integer (`Period`), and `1795229213.5` may be a timestamp. So responses
//! are converted along a [`Shape`] written from the service model for the operations the
//! tests and the demo use; members missing from a shape are converted by their JSON type.

use base64::Engine;
use ciborium::Value as Cbor;
use serde_json::Value as Json;

/// The part of a Smithy shape the translation needs.
#[derive(Debug)]
pub enum Shape {
    Str,
    Bool,
    Int,
    Double,
    Timestamp,
    Blob,
    List(&'static Shape),
    Map(&'static Shape),
    Struct(&'static [(&'static str, Shape)]),
}

/// CBOR (as the SDK sent it) to JSON (as moto reads it).
pub fn to_json(v: &Cbor) -> Json {
    match v {
        Cbor::Integer(i) => {
            let i: i128 = (*i).into();
            i64::try_from(i)
                .map(Json::from)
                .unwrap_or_else(|_| Json::from(i as f64))
        }
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Cbor::Text(s) => Json::String(s.clone()),
        Cbor::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Bool(b) => Json::Bool(*b),
        Cbor::Null => Json::Null,
        Cbor::Tag(1, inner) => to_json(inner),
        Cbor::Tag(_, inner) => to_json(inner),
        Cbor::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Cbor::Map(entries) => Json::Object(
            entries
                .iter()
                .filter(|(_, v)| !v.is_null())
                .filter_map(|(k, v)| Some((k.as_text()?.to_string(), to_json(v))))
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// JSON (as moto or a fake answers) to CBOR (as the SDK expects), guided by `shape`.
pub fn to_cbor(v: &Json, shape: Option<&Shape>) -> Cbor {
    match (shape, v) {
        (_, Json::Null) => Cbor::Null,
        (Some(Shape::Timestamp), Json::Number(n)) => {
            Cbor::Tag(1, Box::new(Cbor::Float(n.as_f64().unwrap_or(0.0))))
        }
        (Some(Shape::Timestamp), Json::String(s)) => {
            let secs = chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis() as f64 / 1000.0)
                .unwrap_or(0.0);
            Cbor::Tag(1, Box::new(Cbor::Float(secs)))
        }
        (Some(Shape::Double), Json::Number(n)) => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        (Some(Shape::Int), Json::Number(n)) => match n.as_i64() {
            Some(i) => Cbor::Integer(i.into()),
            None => Cbor::Integer((n.as_f64().unwrap_or(0.0) as i64).into()),
        },
        (Some(Shape::Blob), Json::String(s)) => Cbor::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_else(|_| s.as_bytes().to_vec()),
        ),
        (Some(Shape::List(item)), Json::Array(items)) => {
            Cbor::Array(items.iter().map(|i| to_cbor(i, Some(item))).collect())
        }
        (Some(Shape::Map(value)), Json::Object(m)) => Cbor::Map(
            m.iter()
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v, Some(value))))
                .collect(),
        ),
        (Some(Shape::Struct(members)), Json::Object(m)) => Cbor::Map(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let member = members.iter().find(|(name, _)| name == k).map(|(_, s)| s);
                    (Cbor::Text(k.clone()), to_cbor(v, member))
                })
                .collect(),
        ),
        // No shape (or a mismatch): by JSON type.
        (_, Json::Bool(b)) => Cbor::Bool(*b),
        (_, Json::Number(n)) => match n.as_i64() {
            Some(i) => Cbor::Integer(i.into()),
            None => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        (_, Json::String(s)) => Cbor::Text(s.clone()),
        (_, Json::Array(items)) => Cbor::Array(items.iter().map(|i| to_cbor(i, None)).collect()),
        (_, Json::Object(m)) => Cbor::Map(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v, None)))
                .collect(),
        ),
    }
}

pub fn decode(bytes: &[u8]) -> Result<Cbor, String> {
    if bytes.is_empty() {
        return Ok(Cbor::Map(Vec::new()));
    }
    ciborium::from_reader(bytes).map_err(|e| format!("the body is not CBOR: {e}"))
}

pub fn encode(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

// --- shapes, from the CloudWatch (2010-08-01) and Health (2016-08-04) models ---

const STRINGS: Shape = Shape::List(&Shape::Str);
const DIMENSION: Shape = Shape::Struct(&[("Name", Shape::Str), ("Value", Shape::Str)]);
const METRIC: Shape = Shape::Struct(&[
    ("Namespace", Shape::Str),
    ("MetricName", Shape::Str),
    ("Dimensions", Shape::List(&DIMENSION)),
]);
const METRIC_STAT: Shape = Shape::Struct(&[
    ("Metric", METRIC),
    ("Period", Shape::Int),
    ("Stat", Shape::Str),
    ("Unit", Shape::Str),
]);
const METRIC_DATA_QUERY: Shape = Shape::Struct(&[
    ("Id", Shape::Str),
    ("MetricStat", METRIC_STAT),
    ("Expression", Shape::Str),
    ("Label", Shape::Str),
    ("ReturnData", Shape::Bool),
    ("Period", Shape::Int),
    ("AccountId", Shape::Str),
]);
const METRIC_ALARM: Shape = Shape::Struct(&[
    ("AlarmName", Shape::Str),
    ("AlarmArn", Shape::Str),
    ("AlarmDescription", Shape::Str),
    ("AlarmConfigurationUpdatedTimestamp", Shape::Timestamp),
    ("ActionsEnabled", Shape::Bool),
    ("OKActions", STRINGS),
    ("AlarmActions", STRINGS),
    ("InsufficientDataActions", STRINGS),
    ("StateValue", Shape::Str),
    ("StateReason", Shape::Str),
    ("StateReasonData", Shape::Str),
    ("StateUpdatedTimestamp", Shape::Timestamp),
    ("MetricName", Shape::Str),
    ("Namespace", Shape::Str),
    ("Statistic", Shape::Str),
    ("ExtendedStatistic", Shape::Str),
    ("Dimensions", Shape::List(&DIMENSION)),
    ("Period", Shape::Int),
    ("Unit", Shape::Str),
    ("EvaluationPeriods", Shape::Int),
    ("DatapointsToAlarm", Shape::Int),
    ("Threshold", Shape::Double),
    ("ComparisonOperator", Shape::Str),
    ("TreatMissingData", Shape::Str),
    ("EvaluateLowSampleCountPercentile", Shape::Str),
    ("Metrics", Shape::List(&METRIC_DATA_QUERY)),
    ("ThresholdMetricId", Shape::Str),
    ("EvaluationState", Shape::Str),
    ("StateTransitionedTimestamp", Shape::Timestamp),
]);
const COMPOSITE_ALARM: Shape = Shape::Struct(&[
    ("ActionsEnabled", Shape::Bool),
    ("AlarmActions", STRINGS),
    ("AlarmArn", Shape::Str),
    ("AlarmConfigurationUpdatedTimestamp", Shape::Timestamp),
    ("AlarmDescription", Shape::Str),
    ("AlarmName", Shape::Str),
    ("AlarmRule", Shape::Str),
    ("InsufficientDataActions", STRINGS),
    ("OKActions", STRINGS),
    ("StateReason", Shape::Str),
    ("StateReasonData", Shape::Str),
    ("StateUpdatedTimestamp", Shape::Timestamp),
    ("StateValue", Shape::Str),
    ("StateTransitionedTimestamp", Shape::Timestamp),
    ("ActionsSuppressedBy", Shape::Str),
    ("ActionsSuppressedReason", Shape::Str),
    ("ActionsSuppressor", Shape::Str),
    ("ActionsSuppressorWaitPeriod", Shape::Int),
    ("ActionsSuppressorExtensionPeriod", Shape::Int),
]);
const TAG: Shape = Shape::Struct(&[("Key", Shape::Str), ("Value", Shape::Str)]);
const DATAPOINT: Shape = Shape::Struct(&[
    ("Timestamp", Shape::Timestamp),
    ("SampleCount", Shape::Double),
    ("Average", Shape::Double),
    ("Sum", Shape::Double),
    ("Minimum", Shape::Double),
    ("Maximum", Shape::Double),
    ("Unit", Shape::Str),
    ("ExtendedStatistics", Shape::Map(&Shape::Double)),
]);
const METRIC_DATA_RESULT: Shape = Shape::Struct(&[
    ("Id", Shape::Str),
    ("Label", Shape::Str),
    ("Timestamps", Shape::List(&Shape::Timestamp)),
    ("Values", Shape::List(&Shape::Double)),
    ("StatusCode", Shape::Str),
]);
const HEALTH_EVENT: Shape = Shape::Struct(&[
    ("arn", Shape::Str),
    ("service", Shape::Str),
    ("eventTypeCode", Shape::Str),
    ("eventTypeCategory", Shape::Str),
    ("region", Shape::Str),
    ("availabilityZone", Shape::Str),
    ("startTime", Shape::Timestamp),
    ("endTime", Shape::Timestamp),
    ("lastUpdatedTime", Shape::Timestamp),
    ("statusCode", Shape::Str),
    ("eventScopeCode", Shape::Str),
]);

const ALARM_HISTORY_ITEM: Shape = Shape::Struct(&[
    ("AlarmName", Shape::Str),
    ("AlarmContributorId", Shape::Str),
    ("AlarmType", Shape::Str),
    ("Timestamp", Shape::Timestamp),
    ("HistoryItemType", Shape::Str),
    ("HistorySummary", Shape::Str),
    ("HistoryData", Shape::Str),
    ("AlarmContributorAttributes", Shape::Map(&Shape::Str)),
]);

static DESCRIBE_ALARMS: Shape = Shape::Struct(&[
    ("MetricAlarms", Shape::List(&METRIC_ALARM)),
    ("CompositeAlarms", Shape::List(&COMPOSITE_ALARM)),
    ("NextToken", Shape::Str),
]);
static LIST_TAGS: Shape = Shape::Struct(&[("Tags", Shape::List(&TAG))]);
static GET_METRIC_STATISTICS: Shape = Shape::Struct(&[
    ("Label", Shape::Str),
    ("Datapoints", Shape::List(&DATAPOINT)),
]);
static GET_METRIC_DATA: Shape = Shape::Struct(&[
    ("MetricDataResults", Shape::List(&METRIC_DATA_RESULT)),
    ("NextToken", Shape::Str),
]);
static DESCRIBE_ALARM_HISTORY: Shape = Shape::Struct(&[
    ("AlarmHistoryItems", Shape::List(&ALARM_HISTORY_ITEM)),
    ("NextToken", Shape::Str),
]);
static WIDGET_IMAGE: Shape = Shape::Struct(&[("MetricWidgetImage", Shape::Blob)]);
static DESCRIBE_EVENTS: Shape = Shape::Struct(&[
    ("events", Shape::List(&HEALTH_EVENT)),
    ("nextToken", Shape::Str),
]);

/// The output shape of `operation`, for the operations the fakes know.
pub fn output_shape(operation: &str) -> Option<&'static Shape> {
    match operation {
        "DescribeAlarms" | "DescribeAlarmsForMetric" => Some(&DESCRIBE_ALARMS),
        "ListTagsForResource" => Some(&LIST_TAGS),
        "GetMetricStatistics" => Some(&GET_METRIC_STATISTICS),
        "GetMetricData" => Some(&GET_METRIC_DATA),
        "GetMetricWidgetImage" => Some(&WIDGET_IMAGE),
        "DescribeAlarmHistory" => Some(&DESCRIBE_ALARM_HISTORY),
        "DescribeEvents" => Some(&DESCRIBE_EVENTS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_types_become_json_1_0() {
        let req = Cbor::Map(vec![
            (Cbor::Text("AlarmName".into()), Cbor::Text("a".into())),
            (Cbor::Text("Threshold".into()), Cbor::Float(80.0)),
            (Cbor::Text("Period".into()), Cbor::Integer(60.into())),
            (
                Cbor::Text("EndTime".into()),
                Cbor::Tag(1, Box::new(Cbor::Float(1_795_229_213.5))),
            ),
            (Cbor::Text("Data".into()), Cbor::Bytes(b"hi".to_vec())),
            (Cbor::Text("Missing".into()), Cbor::Null),
        ]);
        let json = to_json(&decode(&encode(&req)).unwrap());
        assert_eq!(
            json,
            serde_json::json!({"AlarmName": "a", "Threshold": 80.0, "Period": 60, "EndTime": 1795229213.5, "Data": "aGk="})
        );
    }

    #[test]
    fn responses_follow_the_shape() {
        let json = serde_json::json!({
            "MetricAlarms": [{
                "AlarmName": "a",
                "Threshold": 80,
                "Period": 60,
                "StateUpdatedTimestamp": 1795229213.544,
                "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}],
                "Unknown": 3
            }],
            "CompositeAlarms": []
        });
        let cbor = to_cbor(&json, output_shape("DescribeAlarms"));
        let field = |map: &Cbor, k: &str| {
            map.as_map()
                .unwrap()
                .iter()
                .find(|(key, _)| key.as_text() == Some(k))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let alarm = field(&cbor, "MetricAlarms").as_array().unwrap()[0].clone();
        let get = |k: &str| field(&alarm, k);
        assert_eq!(get("Threshold"), Cbor::Float(80.0));
        assert_eq!(get("Period"), Cbor::Integer(60.into()));
        assert_eq!(
            get("StateUpdatedTimestamp"),
            Cbor::Tag(1, Box::new(Cbor::Float(1795229213.544)))
        );
        assert_eq!(get("Unknown"), Cbor::Integer(3.into()));
    }
}
