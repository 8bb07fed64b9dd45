//! Where the service runs: the default VPC's public subnets (with a public
//! IP) or the profile's private ones, and its security group with no way in
//! but what `--public` opens.

use aws_sdk_ec2::types::Filter;

use super::InitClients;
use super::tags::InitTag;
use crate::aws::error::{AwsError, from_sdk};

/// Where a service on Fargate runs: the subnets of the account's default VPC
/// and that VPC's default security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub security_group: Option<String>,
}

pub async fn default_network(c: &InitClients) -> Result<Network, AwsError> {
    let default = Filter::builder().name("is-default").values("true").build();
    let vpcs = c.ec2.describe_vpcs().filters(default).send().await.map_err(from_sdk)?;
    let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()) else {
        return Err(AwsError::NotFound(
            "this region has no default VPC for the service's network; create one (`aws ec2 create-default-vpc`)".into(),
        ));
    };
    let in_vpc = || Filter::builder().name("vpc-id").values(vpc).build();
    let subnets = c.ec2.describe_subnets().filters(in_vpc()).send().await.map_err(from_sdk)?;
    let named_default = Filter::builder().name("group-name").values("default").build();
    let groups = c
        .ec2
        .describe_security_groups()
        .filters(in_vpc())
        .filters(named_default)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(Network {
        vpc: vpc.to_string(),
        subnets: subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_string)).collect(),
        security_group: groups.security_groups().first().and_then(|g| g.group_id().map(str::to_string)),
    })
}

/// This machine's address as AWS sees it (checkip.amazonaws.com), for `--public`.
pub async fn caller_address() -> Result<String, AwsError> {
    use http_body_util::BodyExt;
    let failed = |m: String| {
        AwsError::Unreachable(format!("cannot ask checkip.amazonaws.com for this machine's address: {m}"))
    };
    let client = crate::net::https_client().map_err(failed)?;
    let request = hyper::Request::get("https://checkip.amazonaws.com/")
        .body(http_body_util::Empty::new())
        .map_err(|e| failed(e.to_string()))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| failed("no answer in 10 s".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let body = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    crate::net::single_address(&text).ok_or_else(|| failed(format!("it answered `{text}`")))
}

/// A security group in `vpc` with no way in (nothing may reach what is in
/// it; what is in it may reach out): its id.
pub async fn create_security_group(
    c: &InitClients,
    vpc: &str,
    name: &str,
    tag: &InitTag,
) -> Result<String, AwsError> {
    let t = aws_sdk_ec2::types::Tag::builder().key(&tag.key).value(&tag.value).build();
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
        .tags(t)
        .build();
    let created = c
        .ec2
        .create_security_group()
        .vpc_id(vpc)
        .group_name(name)
        .description(format!("wharf init, profile {}: no way in but what --public opens", tag.value))
        .tag_specifications(tags)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(created.group_id().unwrap_or_default().to_string())
}

/// The ways in the security group `id` allows: `(port, from CIDR)`.
pub async fn ways_in(c: &InitClients, id: &str) -> Result<Vec<(u16, String)>, AwsError> {
    let out = c.ec2.describe_security_groups().group_ids(id).send().await.map_err(from_sdk)?;
    Ok(out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .flat_map(|p| {
            let port = p.from_port().and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
            p.ip_ranges().iter().filter_map(move |r| Some((port, r.cidr_ip()?.to_string())))
        })
        .collect())
}

/// Lets the group's own members (a backup task beside the service's) reach
/// `port` over TCP in the security group `id`.
pub async fn allow_members(c: &InitClients, id: &str, port: u16) -> Result<(), AwsError> {
    let members = aws_sdk_ec2::types::UserIdGroupPair::builder()
        .group_id(id)
        .description("wharf init: its own members")
        .build();
    let rule = tcp(port).user_id_group_pairs(members).build();
    authorize(c, id, rule).await
}

/// The ports the group's own members may reach in it.
pub async fn members_may_reach(c: &InitClients, id: &str) -> Result<Vec<u16>, AwsError> {
    let out = c.ec2.describe_security_groups().group_ids(id).send().await.map_err(from_sdk)?;
    Ok(out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| p.user_id_group_pairs().iter().any(|pair| pair.group_id() == Some(id)))
        .filter_map(|p| p.from_port().and_then(|p| u16::try_from(p).ok()))
        .collect())
}

/// Lets `from` (a CIDR) reach `port` over TCP in the security group `id`.
pub async fn allow(c: &InitClients, id: &str, port: u16, from: &str) -> Result<(), AwsError> {
    let range =
        aws_sdk_ec2::types::IpRange::builder().cidr_ip(from).description("wharf init --public").build();
    authorize(c, id, tcp(port).ip_ranges(range).build()).await
}

/// A TCP rule for `port`, its sources still to be given.
fn tcp(port: u16) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port))
}

async fn authorize(
    c: &InitClients,
    id: &str,
    rule: aws_sdk_ec2::types::IpPermission,
) -> Result<(), AwsError> {
    c.ec2
        .authorize_security_group_ingress()
        .group_id(id)
        .ip_permissions(rule)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// The id of the security group `name` in `vpc`.
pub async fn security_group(c: &InitClients, vpc: &str, name: &str) -> Result<Option<String>, AwsError> {
    let in_vpc = Filter::builder().name("vpc-id").values(vpc).build();
    let named = Filter::builder().name("group-name").values(name).build();
    let out =
        c.ec2.describe_security_groups().filters(in_vpc).filters(named).send().await.map_err(from_sdk)?;
    Ok(out.security_groups().first().and_then(|g| g.group_id().map(str::to_string)))
}

pub async fn delete_security_group(c: &InitClients, id: &str) -> Result<(), AwsError> {
    c.ec2.delete_security_group().group_id(id).send().await.map_err(from_sdk)?;
    Ok(())
}

/// The network of `subnets` (given by the profile): their VPC.
pub async fn network_of(c: &InitClients, subnets: &[String]) -> Result<Network, AwsError> {
    let out =
        c.ec2.describe_subnets().set_subnet_ids(Some(subnets.to_vec())).send().await.map_err(from_sdk)?;
    let vpcs: std::collections::BTreeSet<&str> = out.subnets().iter().filter_map(|s| s.vpc_id()).collect();
    let vpc = match vpcs.into_iter().collect::<Vec<_>>()[..] {
        [vpc] => vpc.to_string(),
        [] => return Err(AwsError::NotFound(format!("no subnets {} in this region", subnets.join(", ")))),
        _ => return Err(AwsError::Service(format!("subnets {} are in different VPCs", subnets.join(", ")))),
    };
    Ok(Network { vpc, subnets: subnets.to_vec(), security_group: None })
}
