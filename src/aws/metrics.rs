//! ECS services' CPU and memory utilization from CloudWatch (`AWS/ECS`,
//! by cluster and service, a point a minute), for the charts of the ECS pane.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};

use super::error::{AwsError, from_sdk};
use crate::model::metrics::Utilization;

/// What the charts span.
pub const SPAN_SECS: i64 = 3 * 3600;
/// GetMetricData takes this many queries a call; each service needs two.
const QUERIES_A_CALL: usize = 500;

/// The last three hours of each service's utilization, in the order asked;
/// a service CloudWatch has nothing for gets an empty [`Utilization`].
pub async fn utilization(
    client: &aws_sdk_cloudwatch::Client,
    cluster: &str,
    services: &[String],
    now: i64,
) -> Result<Vec<(String, Utilization)>, AwsError> {
    let mut out: Vec<(String, Utilization)> =
        services.iter().map(|s| (s.clone(), Utilization::default())).collect();
    for (chunk_index, chunk) in services.chunks(QUERIES_A_CALL / 2).enumerate() {
        let offset = chunk_index * (QUERIES_A_CALL / 2);
        let mut queries = Vec::with_capacity(chunk.len() * 2);
        for (i, service) in chunk.iter().enumerate() {
            for (metric, letter) in [("CPUUtilization", 'c'), ("MemoryUtilization", 'm')] {
                queries.push(query(&format!("{letter}{}", offset + i), cluster, service, metric));
            }
        }
        let mut pages = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(DateTime::from_secs(now - SPAN_SECS))
            .end_time(DateTime::from_secs(now))
            .scan_by(ScanBy::TimestampAscending)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(from_sdk)?;
            for result in page.metric_data_results() {
                let Some((letter, index)) = result.id().and_then(parse_id) else { continue };
                let Some((_, series)) = out.get_mut(index) else { continue };
                let points = result.timestamps().iter().zip(result.values()).map(|(t, v)| (t.secs(), *v));
                let target = if letter == 'c' { &mut series.cpu } else { &mut series.memory };
                target.extend(points);
            }
        }
    }
    for (_, series) in &mut out {
        // Pages may each be in order; the whole must be.
        series.cpu.sort_by_key(|p| p.0);
        series.memory.sort_by_key(|p| p.0);
    }
    Ok(out)
}

fn query(id: &str, cluster: &str, service: &str, metric: &str) -> MetricDataQuery {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let metric = Metric::builder()
        .namespace("AWS/ECS")
        .metric_name(metric)
        .dimensions(dimension("ClusterName", cluster))
        .dimensions(dimension("ServiceName", service))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Average").build())
        .return_data(true)
        .build()
}

/// `c12` → ('c', 12).
fn parse_id(id: &str) -> Option<(char, usize)> {
    let mut chars = id.chars();
    let letter = chars.next()?;
    Some((letter, chars.as_str().parse().ok()?))
}
