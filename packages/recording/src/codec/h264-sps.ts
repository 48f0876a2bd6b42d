/**
 * What an H.264 sequence parameter set says (ITU-T H.264 §7.3.2.1.1 syntax, §7.4.2.1.1 semantics)
 * that a container needs: profile, level, chroma format and bit depths (for the avcC record and
 * the MIME codec string), and the picture size — whole macroblocks minus the frame cropping
 * rectangle. x264 codes a 1366-pixel-wide screen as 86 macroblocks (1376) and crops 10 pixels, so
 * the crop matters.
 */
import { RbspReader } from "./rbsp-reader.ts";

export interface PictureSize {
  width: number;
  height: number;
}

export interface SpsInfo extends PictureSize {
  /** profile_idc: 66 Baseline, 77 Main, 100 High… */
  profileIdc: number;
  /** The byte after profile_idc: constraint_set0..5 flags and two reserved bits. */
  constraintFlags: number;
  /** level_idc: ten times the level number (31 = level 3.1). */
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
}

/** Profiles whose SPS carries chroma format, bit depths and scaling lists (§7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** The picture size alone; `sps`: the whole NAL unit, header byte included. */
export function spsPictureSize(sps: Buffer): PictureSize {
  const { width, height } = parseSps(sps);
  return { width, height };
}

/** `sps`: the whole NAL unit, header byte included. Throws when it is cut short. */
export function parseSps(sps: Buffer): SpsInfo {
  const r = new RbspReader(sps.subarray(1));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1; // 4:2:0 when not coded
  let separateColourPlanes = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) separateColourPlanes = r.flag();
    bitDepthLuma = r.ue() + 8;
    bitDepthChroma = r.ue() + 8;
    r.flag(); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) skipScalingLists(r, chromaFormatIdc === 3 ? 12 : 8);
  }
  r.ue(); // log2_max_frame_num_minus4
  const picOrderCntType = r.ue();
  if (picOrderCntType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (picOrderCntType === 1) {
    r.flag(); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ue();
    for (let i = 0; i < cycle; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.flag(); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = r.ue() + 1;
  const heightInMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  if (!frameMbsOnly) r.flag(); // mb_adaptive_frame_field_flag
  r.flag(); // direct_8x8_inference_flag
  const fieldFactor = frameMbsOnly ? 1 : 2; // interlaced: map units are field macroblock pairs
  let crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (r.flag()) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };

  // Crop offsets count chroma samples (§7.4.2.1.1, Table 6-1); without chroma (monochrome or
  // separately coded planes) they count luma samples.
  const chromaArrayType = separateColourPlanes ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 3 ? 1 : 2;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * fieldFactor;
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    chromaFormatIdc,
    bitDepthLuma,
    bitDepthChroma,
    width: widthInMbs * 16 - cropUnitX * (crop.left + crop.right),
    height: fieldFactor * heightInMapUnits * 16 - cropUnitY * (crop.top + crop.bottom),
  };
}

/** scaling_list() (§7.3.2.1.1.1): only read past, since only the picture size is wanted. */
function skipScalingLists(r: RbspReader, lists: number) {
  for (let i = 0; i < lists; i++) {
    if (!r.flag()) continue; // seq_scaling_list_present_flag[i]
    const size = i < 6 ? 16 : 64;
    let lastScale = 8;
    let nextScale = 8;
    for (let j = 0; j < size; j++) {
      if (nextScale !== 0) nextScale = (lastScale + r.se() + 256) % 256;
      lastScale = nextScale === 0 ? lastScale : nextScale;
    }
  }
}
