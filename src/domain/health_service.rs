//! AWS Health as the domain sees it: which Health service an alarm's CloudWatch namespace
//! belongs to (`AWS/EC2` → `EC2`), so the check asks about the service that is actually
//! alarming, and the events Health reports.

use chrono::{DateTime, Utc};

/// An event AWS Health reports (an operational issue, scheduled change, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub arn: String,
    /// `EC2`, `RDS`, …
    pub service: String,
    /// `AWS_EC2_OPERATIONAL_ISSUE`, …
    pub event_type: String,
    /// `issue`, `scheduledChange`, `accountNotification`, …
    pub category: Option<String>,
    pub region: Option<String>,
    /// `open`, `upcoming`, `closed`.
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    /// A new value means AWS updated the event: it is posted again.
    pub last_updated_at: Option<DateTime<Utc>>,
}

/// CloudWatch namespace → AWS Health service code. Namespaces not listed (custom metrics,
/// composite alarms) have no Health service and are not checked.
const SERVICES: &[(&str, &str)] = &[
    ("AWS/EC2", "EC2"),
    ("AWS/EBS", "EBS"),
    ("AWS/AutoScaling", "AUTOSCALING"),
    ("AWS/ELB", "ELASTICLOADBALANCING"),
    ("AWS/ApplicationELB", "ELASTICLOADBALANCING"),
    ("AWS/NetworkELB", "ELASTICLOADBALANCING"),
    ("AWS/GatewayELB", "ELASTICLOADBALANCING"),
    ("AWS/RDS", "RDS"),
    ("AWS/DynamoDB", "DYNAMODB"),
    ("AWS/ElastiCache", "ELASTICACHE"),
    ("AWS/Lambda", "LAMBDA"),
    ("AWS/ECS", "ECS"),
    ("AWS/EKS", "EKS"),
    ("AWS/S3", "S3"),
    ("AWS/SQS", "SQS"),
    ("AWS/SNS", "SNS"),
    ("AWS/Kinesis", "KINESIS"),
    ("AWS/Firehose", "FIREHOSE"),
    ("AWS/ApiGateway", "APIGATEWAY"),
    ("AWS/CloudFront", "CLOUDFRONT"),
    ("AWS/Route53", "ROUTE53"),
    ("AWS/ES", "ES"),
    ("AWS/Redshift", "REDSHIFT"),
    ("AWS/EFS", "ELASTICFILESYSTEM"),
    ("AWS/States", "STATES"),
    ("AWS/Events", "EVENTS"),
    ("AWS/Kafka", "KAFKA"),
];

/// The Health service code for `namespace`, if it is an AWS service Health reports on.
pub fn health_service(namespace: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(ns, _)| *ns == namespace)
        .map(|(_, service)| *service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_map_to_health_services() {
        let cases = [
            ("AWS/EC2", Some("EC2")),
            ("AWS/RDS", Some("RDS")),
            ("AWS/ELB", Some("ELASTICLOADBALANCING")),
            ("AWS/ApplicationELB", Some("ELASTICLOADBALANCING")),
            ("AWS/NetworkELB", Some("ELASTICLOADBALANCING")),
            ("AWS/Lambda", Some("LAMBDA")),
            ("AWS/DynamoDB", Some("DYNAMODB")),
            // Exact names only: CloudWatch namespaces are case-sensitive.
            ("aws/ec2", None),
            ("AWS/EC2Spot", None),
            ("Custom/Checkout", None),
            ("", None),
        ];
        for (ns, want) in cases {
            assert_eq!(health_service(ns), want, "{ns}");
        }
    }

    #[test]
    fn every_namespace_is_listed_once() {
        for (i, (ns, _)) in SERVICES.iter().enumerate() {
            assert!(ns.starts_with("AWS/"), "{ns}");
            assert!(
                SERVICES[i + 1..].iter().all(|(other, _)| other != ns),
                "{ns} twice"
            );
        }
    }
}
