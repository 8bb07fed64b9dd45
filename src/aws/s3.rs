//! S3: what snapshots need, as wharf's own types. Objects are listed through
//! every page; big objects go up as multipart uploads and come down in ranges.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectIdentifier};
use bytes::Bytes;

use super::error::{AwsError, from_sdk};
use crate::config::StorageClass;
pub use crate::model::snapshots::Object;
use crate::model::snapshots::S3Class;

/// A multipart upload that was started and not completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    pub key: String,
    pub upload_id: String,
    /// Unix seconds.
    pub initiated: Option<i64>,
}

impl StorageClass {
    fn to_s3(self) -> aws_sdk_s3::types::StorageClass {
        use aws_sdk_s3::types::StorageClass as S;
        match self {
            StorageClass::Standard => S::Standard,
            StorageClass::StandardIa => S::StandardIa,
            StorageClass::OnezoneIa => S::OnezoneIa,
            StorageClass::IntelligentTiering => S::IntelligentTiering,
            StorageClass::GlacierIr => S::GlacierIr,
        }
    }
}

/// The buckets the credentials can list, through every page, by name.
pub async fn buckets(s3: &aws_sdk_s3::Client) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut pages = s3.list_buckets().max_buckets(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(from_sdk)?;
        names.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_string)));
    }
    names.sort();
    Ok(names)
}

/// Every object under `prefix`, through all pages.
pub async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, AwsError> {
    list_range(s3, bucket, prefix, None, None).await
}

/// Every object under `prefix`, listed as ranges side by side: one from the
/// start up to the first of `splits` (sorted keys), one from there up to the
/// next, and so on. A long listing takes the time of its longest range, not
/// of all its pages one after the other (S3 pages by 1,000 and each page is a
/// round trip); the objects come in key order, each once, up to `through`.
pub async fn list_split(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    splits: &[String],
    through: Option<&str>,
) -> Result<Vec<Object>, AwsError> {
    let bounds: Vec<Option<&str>> =
        std::iter::once(None).chain(splits.iter().map(|s| Some(s.as_str()))).chain([through]).collect();
    let ranges = bounds.windows(2).map(|w| list_range(s3, bucket, prefix, w[0], w[1]));
    let lists = futures::future::try_join_all(ranges).await?;
    Ok(lists.into_iter().flatten().collect())
}

/// The objects under `prefix` with keys after `after` and up to `through`
/// (either end open), through all pages.
async fn list_range(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    through: Option<&str>,
) -> Result<Vec<Object>, AwsError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_start_after(after.map(str::to_string))
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        for o in page.map_err(from_sdk)?.contents() {
            let key = o.key().unwrap_or_default();
            if through.is_some_and(|t| key > t) {
                return Ok(objects);
            }
            objects.push(Object {
                key: key.to_string(),
                size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                storage_class: o.storage_class().map_or(S3Class::Standard, |c| S3Class::named(c.as_str())),
                last_modified: o.last_modified().map(|t| t.secs()),
            });
        }
    }
    Ok(objects)
}

/// A small object, whole (a manifest).
pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Bytes, AwsError> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.map_err(from_sdk)?;
    let body = out.body.collect().await.map_err(|e| AwsError::Unreachable(crate::error::one_line(&e)))?;
    Ok(body.into_bytes())
}

/// Times a ranged GET whose body broke off is asked for again.
const BODY_ATTEMPTS: u32 = 3;

/// Bytes `start..=end` of an object. The SDK retries a request that fails;
/// a body that breaks off on the way (a dropped connection) is asked for
/// again here, a second later, before the error stands.
pub async fn get_range(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    start: u64,
    end: u64,
) -> Result<Bytes, AwsError> {
    use backon::Retryable;
    /// What went wrong: the request (the SDK has retried it), or the body on its way.
    enum Failed {
        Request(AwsError),
        Body(String),
    }
    let read = || async {
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .send()
            .await
            .map_err(|e| Failed::Request(from_sdk(e)))?;
        let body = out.body.collect().await.map_err(|e| Failed::Body(crate::error::one_line(&e)))?;
        Ok(body.into_bytes())
    };
    let again = backon::ConstantBuilder::default()
        .with_delay(std::time::Duration::from_secs(1))
        .with_max_times(BODY_ATTEMPTS as usize - 1);
    read.retry(again)
        .when(|e| matches!(e, Failed::Body(_)))
        .notify(|e, _| {
            if let Failed::Body(error) = e {
                tracing::warn!(key, start, %error, "a ranged read broke off; asking again");
            }
        })
        .await
        .map_err(|e| match e {
            Failed::Request(e) => e,
            Failed::Body(error) => AwsError::Unreachable(error),
        })
}

/// The object `key` of `size` bytes, in order, as ranged GETs of 16 MiB
/// (the size AWS suggests for byte-range fetches is 8 or 16 MB), eight at
/// once: at most 128 MiB in flight, and few enough requests that a call's
/// latency does not add up (each retried as [`get_range`] says).
pub fn download<'a>(
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: &'a str,
    size: u64,
) -> impl futures::Stream<Item = Result<Bytes, AwsError>> + 'a {
    use futures::StreamExt;
    const RANGE: u64 = 16 << 20;
    const AT_ONCE: usize = 8;
    let ranges = (0..size.div_ceil(RANGE)).map(move |i| (i * RANGE, ((i + 1) * RANGE).min(size) - 1));
    futures::stream::iter(ranges)
        .map(move |(start, end)| get_range(s3, bucket, key, start, end))
        .buffered(AT_ONCE)
}

/// Writes a small object whole (a manifest), in `storage_class`.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    storage_class: StorageClass,
) -> Result<(), AwsError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .storage_class(storage_class.to_s3())
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// When a conditional write may go ahead (S3's conditional writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Only {
    /// Only if no object has the key yet (`If-None-Match: *`).
    IfAbsent,
    /// Only if the object is still the one with this ETag (`If-Match`).
    IfUnchanged(String),
}

/// Writes a small JSON object (a manifest, `HEAD.json`) in STANDARD, if
/// `only` still holds: `Ok(false)` when it did not (someone wrote first).
pub async fn put_if(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    only: Only,
) -> Result<bool, AwsError> {
    let put =
        s3.put_object().bucket(bucket).key(key).content_type("application/json").body(ByteStream::from(body));
    let put = match only {
        Only::IfAbsent => put.if_none_match("*"),
        Only::IfUnchanged(etag) => put.if_match(etag),
    };
    match put.send().await {
        Ok(_) => Ok(true),
        // 412: the condition failed; 409: a write to the same key raced this one.
        Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412 | 409)) => Ok(false),
        Err(e) => Err(from_sdk(e)),
    }
}

/// Writes a snapshot chunk (zstd) in `storage_class` unless the bucket holds
/// one by that name already (`If-None-Match: *`): chunks are named by their
/// content, so one that is there is this one. `Ok(false)`: it was there.
pub async fn put_chunk(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Bytes,
    storage_class: StorageClass,
) -> Result<bool, AwsError> {
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/zstd")
        .storage_class(storage_class.to_s3())
        .if_none_match("*")
        .body(ByteStream::from(body));
    match put.send().await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_response().map(|r| r.status().as_u16()), Some(412 | 409)) => Ok(false),
        Err(e) => Err(from_sdk(e)),
    }
}

/// A small object whole with its ETag, or `None` when there is none.
pub async fn get_tagged(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Bytes, String)>, AwsError> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await.map_err(from_sdk) {
        Ok(out) => out,
        Err(AwsError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let body = out.body.collect().await.map_err(|e| AwsError::Unreachable(crate::error::one_line(&e)))?;
    Ok(Some((body.into_bytes(), etag)))
}

/// Size and storage class of one object; `NotFound` when it is not there.
pub async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Object, AwsError> {
    let out = s3.head_object().bucket(bucket).key(key).send().await.map_err(|e| match from_sdk(e) {
        // HEAD has no body, so S3's "NoSuchKey" arrives as a bare 404.
        AwsError::Service(m) if m.contains("NotFound") || m.contains("404") => {
            AwsError::NotFound(format!("no object s3://{bucket}/{key}"))
        }
        other => other,
    })?;
    Ok(Object {
        key: key.to_string(),
        size: out.content_length().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        storage_class: out.storage_class().map_or(S3Class::Standard, |c| S3Class::named(c.as_str())),
        last_modified: out.last_modified().map(|t| t.secs()),
    })
}

/// The ETag of `key` now (`None`: there is none), asked only to differ from
/// `known`: an unchanged object answers 304 with no body, which costs next to nothing.
pub async fn etag(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    known: Option<&str>,
) -> Result<Option<String>, AwsError> {
    match s3.head_object().bucket(bucket).key(key).set_if_none_match(known.map(str::to_string)).send().await {
        Ok(out) => Ok(out.e_tag().map(str::to_string)),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(304) => Ok(known.map(str::to_string)),
            Some(404) => Ok(None),
            _ => Err(from_sdk(e)),
        },
    }
}

/// Deletes `keys`, in the order given (a manifest first makes a snapshot incomplete
/// before its data goes).
pub async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) -> Result<(), AwsError> {
    for chunk in keys.chunks(1000) {
        if let [key] = chunk {
            s3.delete_object().bucket(bucket).key(key).send().await.map_err(from_sdk)?;
            continue;
        }
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::Service(e.to_string()))?;
        let delete = aws_sdk_s3::types::Delete::builder()
            .set_objects(Some(objects))
            .build()
            .map_err(|e| AwsError::Service(e.to_string()))?;
        // DeleteObjects answers 200 whatever it could not delete; each key's error is in the answer.
        let out = s3.delete_objects().bucket(bucket).delete(delete).send().await.map_err(from_sdk)?;
        let failed: Vec<String> = out
            .errors()
            .iter()
            .map(|e| {
                let why = e.message().or(e.code()).unwrap_or("not deleted");
                format!("{}: {why}", e.key().unwrap_or("?"))
            })
            .collect();
        if !failed.is_empty() {
            return Err(AwsError::Service(format!(
                "S3 did not delete {} of {} objects: {}",
                failed.len(),
                chunk.len(),
                failed.join("; ")
            )));
        }
    }
    Ok(())
}

/// Multipart uploads under `prefix` that were started and never completed or aborted.
pub async fn open_uploads(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<OpenUpload>, AwsError> {
    let mut uploads = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let out = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .map_err(from_sdk)?;
        for u in out.uploads() {
            uploads.push(OpenUpload {
                key: u.key().unwrap_or_default().to_string(),
                upload_id: u.upload_id().unwrap_or_default().to_string(),
                initiated: u.initiated().map(|t| t.secs()),
            });
        }
        if !out.is_truncated().unwrap_or(false) {
            return Ok(uploads);
        }
        key_marker = out.next_key_marker().map(str::to_string);
        id_marker = out.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && id_marker.is_none() {
            return Ok(uploads);
        }
    }
}

/// When the newest part of an open multipart upload was sent (Unix
/// seconds); `None` when it has no part yet.
pub async fn newest_part(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Option<i64>, AwsError> {
    let mut newest = None;
    let mut marker: Option<String> = None;
    loop {
        let out = s3
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .map_err(from_sdk)?;
        newest = out.parts().iter().filter_map(|p| p.last_modified().map(|t| t.secs())).chain(newest).max();
        match out.next_part_number_marker() {
            Some(next) if out.is_truncated().unwrap_or(false) && marker.as_deref() != Some(next) => {
                marker = Some(next.to_string());
            }
            _ => return Ok(newest),
        }
    }
}

/// The size of part `number` (from 1) of an upload expected to hold about
/// `expected` bytes (a guess, or none). S3 takes at most 10,000 parts of at
/// most 5 GiB, all but the last at least 5 MiB. Parts are sized so the guess
/// fits in 9,000 of them (8 MiB at least), and grow by themselves besides:
/// doubling every 1,000 parts from 8 MiB, so 10,000 parts hold 8 TiB, more
/// than the 5 TiB an S3 object can be, however wrong the guess was.
pub fn part_size(number: u32, expected: Option<u64>) -> usize {
    const FIRST: u64 = 8 << 20;
    const MOST: u64 = 5 << 30;
    let planned = expected.map_or(0, |e| e.div_ceil(9_000));
    let grown = FIRST << (number.saturating_sub(1) / 1_000).min(9);
    let size = planned.max(grown).next_multiple_of(1 << 20).clamp(FIRST, MOST);
    usize::try_from(size).unwrap_or(usize::MAX)
}

/// An object being written in parts. Nothing is visible under the key until
/// [`Upload::complete`]; [`Upload::abort`] leaves nothing behind.
#[derive(Debug, Clone)]
pub struct Upload {
    s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
    upload_id: String,
}

impl Upload {
    pub async fn start(
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        storage_class: StorageClass,
    ) -> Result<Upload, AwsError> {
        let out = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("application/zstd")
            .storage_class(storage_class.to_s3())
            .send()
            .await
            .map_err(from_sdk)?;
        let upload_id = out
            .upload_id()
            .ok_or_else(|| AwsError::Service("S3 started a multipart upload without an id".into()))?;
        Ok(Upload {
            s3: s3.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
        })
    }

    /// S3's id of this upload.
    pub fn id(&self) -> &str {
        &self.upload_id
    }

    /// Sends part `number` (from 1); every part but the last must be at least 5 MiB.
    pub async fn part(&self, number: i32, body: Bytes) -> Result<Part, AwsError> {
        let out = self
            .s3
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(Part { number, etag: out.e_tag().unwrap_or_default().to_string() })
    }

    /// Joins the parts into the object.
    pub async fn complete(&self, mut parts: Vec<Part>) -> Result<(), AwsError> {
        parts.sort_by_key(|p| p.number);
        let parts = parts
            .into_iter()
            .map(|p| CompletedPart::builder().part_number(p.number).e_tag(p.etag).build())
            .collect();
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    /// Throws the parts away.
    pub async fn abort(&self) -> Result<(), AwsError> {
        abort(&self.s3, &self.bucket, &self.key, &self.upload_id).await
    }
}

/// Aborts one multipart upload.
pub async fn abort(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), AwsError> {
    s3.abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// An uploaded part, for [`Upload::complete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: i32,
    pub etag: String,
}

#[cfg(test)]
mod tests {
    use super::part_size;

    const TIB: u64 = 1 << 40;

    /// What `parts` parts hold, and the biggest of them.
    fn capacity(parts: u32, expected: Option<u64>) -> (u64, usize) {
        let sizes = (1..=parts).map(|n| part_size(n, expected));
        (sizes.clone().map(|s| s as u64).sum(), sizes.max().unwrap_or(0))
    }

    #[test]
    fn ten_thousand_parts_hold_five_tib_whatever_was_expected() {
        for expected in [None, Some(0), Some(1 << 30), Some(100 << 30), Some(5 * TIB), Some(50 * TIB)] {
            let (total, biggest) = capacity(10_000, expected);
            assert!(total >= 5 * TIB, "{expected:?}: 10,000 parts hold only {total} bytes");
            assert!(biggest <= 5 << 30, "{expected:?}: a part of {biggest} bytes is over S3's 5 GiB");
            assert!((1..=10_000).all(|n| part_size(n, expected) >= 5 << 20));
        }
    }

    #[test]
    fn small_backups_keep_small_parts_and_big_ones_start_big() {
        assert_eq!(part_size(1, None), 8 << 20);
        assert_eq!(part_size(1_000, Some(1 << 30)), 8 << 20);
        assert_eq!(part_size(1_001, None), 16 << 20);
        // 5 TiB expected: 9,000 parts of 583 MiB hold it, with 1,000 to spare.
        assert_eq!(part_size(1, Some(5 * TIB)), 583 << 20);
        assert!(capacity(9_000, Some(5 * TIB)).0 >= 5 * TIB);
    }
}
