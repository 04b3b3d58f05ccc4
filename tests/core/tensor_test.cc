// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/core/tensor.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace mot {
namespace {

TEST(TensorTest, EmptyHasShapeSizeAndAlignment) {
  Tensor t = Tensor::Empty(DType::kBF16, {3, 5});
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.dim(0), 3);
  EXPECT_EQ(t.dim(1), 5);
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(t.nbytes(), 30);
  EXPECT_TRUE(t.owns_data());
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  EXPECT_EQ(t.DebugString(), "[3, 5] BF16");
}

TEST(TensorTest, ZerosAreZero) {
  Tensor t = Tensor::Zeros(DType::kF32, {7, 3});
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data_as<float>()[i], 0.0f);
}

TEST(TensorTest, NumElements) {
  EXPECT_EQ(Tensor::NumElements({}), 1);
  EXPECT_EQ(Tensor::NumElements({0, 5}), 0);
  EXPECT_EQ(Tensor::NumElements({2, 3, 4}), 24);
}

TEST(TensorTest, ViewSharesTheCallersMemory) {
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  Tensor v = Tensor::View(DType::kF32, {2, 3}, data.data());
  EXPECT_FALSE(v.owns_data());
  EXPECT_EQ(v.data(), data.data());
  data[4] = 42.0f;
  EXPECT_EQ(v.data_as<float>()[4], 42.0f);
}

TEST(TensorTest, CopySharesAndCloneIsDeep) {
  Tensor t = Tensor::Zeros(DType::kF32, {4});
  Tensor copy = t;
  copy.data_as<float>()[0] = 3.0f;
  EXPECT_EQ(t.data_as<float>()[0], 3.0f);  // shared buffer
  Tensor clone = t.Clone();
  EXPECT_NE(clone.data(), t.data());
  EXPECT_TRUE(clone.owns_data());
  clone.data_as<float>()[1] = 5.0f;
  EXPECT_EQ(t.data_as<float>()[1], 0.0f);
  EXPECT_EQ(clone.data_as<float>()[0], 3.0f);
  EXPECT_EQ(clone.shape(), t.shape());
  // A clone of a view owns its data.
  std::vector<float> data = {1, 2};
  Tensor vc = Tensor::View(DType::kF32, {2}, data.data()).Clone();
  EXPECT_TRUE(vc.owns_data());
  data[0] = 9.0f;
  EXPECT_EQ(vc.data_as<float>()[0], 1.0f);
}

TEST(TensorTest, ToConvertsWithRoundToNearestEven) {
  std::vector<float> data = {1.0f, 1.00390625f, -2.5f, 65504.0f, 1e-8f, 3.14159265f};
  Tensor f32 = Tensor::View(DType::kF32, {2, 3}, data.data());
  for (DType t : {DType::kF16, DType::kBF16}) {
    Tensor c = f32.To(t);
    EXPECT_EQ(c.dtype(), t);
    EXPECT_EQ(c.shape(), f32.shape());
    Tensor back = c.To(DType::kF32);
    for (int i = 0; i < 6; ++i) {
      const uint16_t h = c.data_as<uint16_t>()[i];
      EXPECT_EQ(h, t == DType::kF16 ? F32ToF16(data[static_cast<size_t>(i)])
                                    : F32ToBF16(data[static_cast<size_t>(i)]));
      EXPECT_EQ(back.data_as<float>()[i], t == DType::kF16 ? F16ToF32(h) : BF16ToF32(h));
    }
  }
  // f16 -> bf16 goes through f32.
  Tensor bf = f32.To(DType::kF16).To(DType::kBF16);
  EXPECT_EQ(bf.data_as<uint16_t>()[0], F32ToBF16(1.0f));
  // Same dtype: a deep copy.
  Tensor same = f32.To(DType::kF32);
  EXPECT_NE(same.data(), f32.data());
  EXPECT_EQ(same.data_as<float>()[2], -2.5f);
}

}  // namespace
}  // namespace mot
